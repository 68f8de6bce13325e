package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/migrate"
)

// opDeadline bounds waiting for a hub operation (it has its own timeout).
const opDeadline = 16 * time.Minute

func installCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "install",
		Usage:     "install a module: a first-party name, a local directory or .tgz, or an npm package",
		ArgsUsage: "<service>|<path>|<npm-spec>",
		Description: `Installs and registers a module, then starts it through the running hub.

  parachute install vault                  first-party module from npm (bun when installed, else npm)
  parachute install ./my-module            a directory with .parachute/module.json, used in place
  parachute install ./my-module-1.0.0.tgz  an npm tarball, installed globally
  parachute install some-module@1.2.3      an npm package with .parachute/module.json

services: ` + strings.Join(knownShortList(), ", ") + `

Installing a module that is already installed replaces it in place (same port,
same .env) and restarts it; if the new version does not become ready, the old
one is put back. A new module gets its canonical port when free, else one from
the unassigned Parachute range (1944, 1947–1949), else one above it.
With the hub down, the module is registered and starts with the hub.

A new vault install runs ` + "`parachute-vault init`" + ` (creating the first vault,
--vault-name N, default "default"); --no-create skips it.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "channel", Usage: "npm channel: rc or latest (default: $PARACHUTE_INSTALL_CHANNEL, else the channel of the installed version, else latest)"},
			&cli.StringFlag{Name: "tag", Usage: "npm dist-tag or exact version (wins over --channel)"},
			&cli.IntFlag{Name: "port", Usage: "port for a new module (default: assigned)"},
			&cli.BoolFlag{Name: "no-start", Usage: "register only; do not start the module"},
			&cli.BoolFlag{Name: "allow-downgrade", Usage: "allow replacing an installed module with an older version"},
			&cli.BoolFlag{Name: "no-create", Usage: "vault: install without running `parachute-vault init` (no vault is created; the module is not started)"},
			&cli.StringFlag{Name: "vault-name", Usage: "vault: name of the first vault `parachute-vault init` creates (default: default)"},
			&cli.StringFlag{Name: "scribe-provider", Usage: "scribe only: transcription provider (" + strings.Join(scribeProviderNames(), ", ") + "); on a terminal without it, a picker asks"},
			&cli.StringFlag{Name: "scribe-key", Usage: "scribe only: the API key groq or openai needs (saved to <config root>/scribe/.env); - reads it from stdin, keeping it out of the process list"},
		},
		Action: func(c *cli.Context) error { return runInstall(e, c) },
	}
}

func uninstallCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "uninstall",
		Usage:     "stop a module, unregister it and remove its package",
		ArgsUsage: "<service>",
		Description: `Stops the module, removes its services.json entry, and removes its npm package
when bun or npm installed it (a directory installed in place is left alone).
--purge also removes <config root>/<service>/ (its .env, logs and data).`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "purge", Usage: "also remove the module's directory under the config root"}},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return fail(ExitUsage, "usage: parachute uninstall <service> [--purge]")
			}
			short := c.Args().First()
			paths, err := e.paths()
			if err != nil {
				return rootErr(err)
			}
			purge := c.Bool("purge")
			return viaHubOrLocal(e, c.Context, paths, "uninstall", short, api.UninstallBody{Purge: purge},
				func(in *install.Installer) (string, error) {
					res, err := in.Uninstall(c.Context, install.UninstallRequest{Short: short, Purge: purge})
					if err != nil {
						return "", err
					}
					return fmt.Sprintf("✓ %s uninstalled", res.Short), nil
				})
		},
	}
}

func runInstall(e *env, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return fail(ExitUsage, "usage: parachute install <service>|<path>|<npm-spec> [--channel rc|latest] [--tag T] [--port N] [--no-start]\nservices: %s",
			strings.Join(knownShortList(), ", "))
	}
	return e.install(c.Context, installArgs{arg: c.Args().First(), channel: c.String("channel"), tag: c.String("tag"), port: c.Int("port"),
		noStart: c.Bool("no-start"), allowDowngrade: c.Bool("allow-downgrade"), noCreate: c.Bool("no-create"), vaultName: c.String("vault-name"),
		scribeProvider: c.String("scribe-provider"), scribeKey: c.String("scribe-key"),
		scribeFlags: c.IsSet("scribe-provider") || c.IsSet("scribe-key")})
}

// installArgs are `parachute install`'s argument and flags; `parachute
// setup` fills them for each module it installs.
type installArgs struct {
	arg, channel, tag         string
	port                      int
	noStart, allowDowngrade   bool
	noCreate                  bool
	vaultName                 string
	scribeProvider, scribeKey string
	scribeFlags               bool          // --scribe-provider or --scribe-key was given
	scribeAsked               *scribeChoice // setup already asked: never ask again
}

// install installs one module, through the running hub when it answers.
func (e *env) install(ctx context.Context, a installArgs) error {
	if err := install.CheckChannel(a.channel); err != nil {
		return fail(ExitUsage, "parachute install: %v", err)
	}
	if n := a.vaultName; n != "" {
		if why := manifest.CheckVaultName(n); why != "" {
			return fail(ExitUsage, "parachute install: --vault-name: %s", why)
		}
	}
	paths, err := e.paths()
	if err != nil {
		return rootErr(err)
	}
	arg := absIfPath(a.arg)
	// Read the source here first: a bad module.json is reported before
	// anything is downloaded, and the hub's route needs the module name.
	src, err := install.ParseSource(arg, install.SourceOptions{Channel: a.channel, Tag: a.tag})
	if err != nil {
		return fail(ExitFail, "✗ %v", err)
	}
	short := opShort(src)
	var scribe scribeChoice
	switch {
	case short == "scribe" && a.scribeAsked != nil:
		scribe = *a.scribeAsked
	case short == "scribe":
		scribe = scribeProviderChoice(e, paths, a.scribeProvider, a.scribeKey)
	case a.scribeFlags:
		e.eprintf("--scribe-provider and --scribe-key apply to `install scribe` only; ignored.\n")
	}
	req := install.Request{Source: arg, Channel: a.channel, Tag: a.tag, Port: a.port,
		NoStart: a.noStart, AllowDowngrade: a.allowDowngrade, NoCreate: a.noCreate, VaultName: a.vaultName,
		ScribeProvider: scribe.provider, ScribeKey: scribe.key}
	body := api.InstallBody{Source: arg, Channel: req.Channel, Tag: req.Tag, Port: req.Port, NoStart: req.NoStart, AllowDowngrade: req.AllowDowngrade,
		NoCreate: req.NoCreate, VaultName: req.VaultName, ScribeProvider: req.ScribeProvider, ScribeKey: req.ScribeKey}
	err = viaHubOrLocal(e, ctx, paths, "install", short, body, func(in *install.Installer) (string, error) {
		req.NoStart = true // no hub, nothing runs modules
		res, err := in.Install(ctx, req)
		if err != nil {
			return "", err
		}
		if a.noStart {
			return fmt.Sprintf("%s\n  Start it with `parachute start %s`.", res.Summary(), res.Short), nil
		}
		return fmt.Sprintf("%s\n  The hub is not running; %s will start with it (`parachute start`).", res.Summary(), res.Short), nil
	})
	if err != nil {
		return err
	}
	// Legacy files of the TypeScript hub left in the config root: one line
	// pointing at `parachute migrate` (reference lifecycle §3.4 step 11, §5.6).
	if n := migrate.Notice(paths); n != "" {
		e.printf("%s\n", n)
	}
	return nil
}

// opShort is the module name the hub route is addressed to.
func opShort(src install.Source) string {
	switch {
	case src.Known != nil:
		return src.Known.Short
	case src.Module != nil:
		return src.Module.Name
	}
	name := src.Package
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// viaHubOrLocal runs a module operation through the running hub (so its
// supervisor stops, starts and health-checks the module), or, when no hub
// answers, on the disk directly with local.
func viaHubOrLocal(e *env, ctx context.Context, paths config.Paths, op, short string, body any,
	local func(in *install.Installer) (string, error)) error {
	client := hubclient.New(paths)
	_, herr := client.Health(ctx)
	if herr == nil {
		return runHubOp(e, ctx, client, op, short, body)
	}
	if !errors.Is(herr, hubclient.ErrHubNotRunning) {
		return fail(ExitFail, "✗ %s %s: the hub at %s did not answer /health: %v", op, short, client.Base, herr)
	}
	// Why: done here as root, the work would leave root-owned files
	// (services.json, the module's directory, what its init creates) in a
	// config root that belongs to the hub's user (the system package's
	// /var/lib/parachute, a container's volume), and that hub could not
	// read or rewrite them. Through the running hub it is done as that user.
	if cred := rootOwner(paths.Root); cred != nil {
		return fail(ExitFail, "✗ %s %s: the hub is not running, and as root this would leave files in %s that its owner (uid %d) cannot use.\n"+
			"  Start the hub and retry (`parachute start`), or run it as that user: sudo -u '#%d' parachute %s %s",
			op, short, paths.Root, cred.Uid, cred.Uid, op, short)
	}
	r := newLineRenderer(e.stdout)
	defer r.close()
	in := install.New(install.Options{Paths: paths, Reporter: &install.Lines{OnLine: r.line}})
	tail, err := local(in)
	r.close()
	if err != nil {
		return installFailure(short, err.Error(), install.ErrorType(err))
	}
	if tail != "" {
		e.printf("%s\n", tail)
	}
	return nil
}

// nothingToUpgrade is the failure of `upgrade <module>` for a module with
// no upgrade source; the sweep (`upgrade` alone) reports it as a note.
type nothingToUpgrade struct{ err *exitError }

func (n *nothingToUpgrade) Error() string { return n.err.Error() }
func (n *nothingToUpgrade) Unwrap() error { return n.err }

// installFailure formats a failed operation with what to run next.
func installFailure(short, msg string, typ api.ErrorCode) error {
	switch typ {
	case api.CodeNothingToUpgrade:
		return &nothingToUpgrade{err: &exitError{code: ExitFail, msg: "✗ " + msg}}
	case api.CodeRolledBack, api.CodeStartFailed:
		return fail(ExitFail, "✗ %s\n  See `parachute logs %s` and `parachute status`.", msg, short)
	case api.CodeServicesJSONMalformed:
		return fail(ExitFail, "services.json is malformed: %s\nFix or remove the file, then re-run.", msg)
	case api.CodeNotInstalled:
		return fail(ExitFail, "✗ %s\n  `parachute status` lists what is installed.", msg)
	}
	return fail(ExitFail, "✗ %s", msg)
}

// runHubOp POSTs /api/modules/<short>/<op>, then follows the operation,
// printing its log lines as they arrive, until it finishes.
func runHubOp(e *env, ctx context.Context, client *hubclient.Client, op, short string, body any) error {
	var accepted api.OperationAccepted
	path := "/api/modules/" + url.PathEscape(short) + "/" + op
	if err := client.JSON(ctx, http.MethodPost, path, body, &accepted); err != nil {
		return hubOpError(short, op, err)
	}
	if accepted.OperationID == "" {
		return fail(ExitFail, "✗ %s %s: the hub accepted the request but returned no operation id", op, short)
	}
	r := newLineRenderer(e.stdout)
	defer r.close()
	ctx, cancel := context.WithTimeout(ctx, opDeadline)
	defer cancel()
	printed := 0
	for {
		var st api.Operation
		if err := client.JSON(ctx, http.MethodGet, "/api/modules/operations/"+accepted.OperationID, nil, &st); err != nil {
			r.close()
			if ctx.Err() != nil {
				return fail(ExitFail, "✗ %s %s: gave up waiting after %s (operation %s); check `parachute status`", op, short, opDeadline, accepted.OperationID)
			}
			return hubOpError(short, op, err)
		}
		for ; printed < len(st.Log); printed++ {
			r.line(st.Log[printed])
		}
		switch st.Status {
		case api.OpSucceeded:
			return nil
		case api.OpFailed:
			r.close()
			var typ api.ErrorCode
			if st.ErrorDetail != nil {
				typ = st.ErrorDetail.ErrorType
			}
			return installFailure(short, st.Error, typ)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond): // poll interval
		}
	}
}

// hubOpError explains a failed request to the hub.
func hubOpError(short, op string, err error) error {
	var he *hubclient.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusUnauthorized {
		return fail(ExitFail, "✗ %s %s: %s\n  If the token is stale, run `parachute auth rotate-operator`.", op, short, he.Description)
	}
	return fail(ExitFail, "✗ %s %s: %v", op, short, err)
}

// absIfPath makes a relative path argument absolute, so the hub (whose
// working directory is elsewhere) gets the directory the operator meant.
func absIfPath(arg string) string {
	if arg == "." || arg == ".." || strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "../") {
		if abs, err := filepath.Abs(arg); err == nil {
			return abs
		}
	}
	return arg
}

// lineRenderer prints installer progress lines. A step line ("installing
// x with npm …") becomes a spinner on a terminal until its "…: done" or
// "…: failed" line; elsewhere every line is printed as is.
type lineRenderer struct {
	w   io.Writer
	tty bool

	mu   sync.Mutex // guards the fields below and writes to w
	step string     // the step the spinner shows, "" when none
	stop chan struct{}
	done chan struct{}
}

func newLineRenderer(w io.Writer) *lineRenderer {
	return &lineRenderer{w: w, tty: isTerminal(w)}
}

func (r *lineRenderer) line(l string) {
	if !r.tty {
		r.mu.Lock()
		fmt.Fprintln(r.w, l)
		r.mu.Unlock()
		return
	}
	if step, ok := strings.CutSuffix(l, " …"); ok {
		r.endSpinner("")
		r.startSpinner(step)
		return
	}
	r.mu.Lock()
	cur := r.step
	r.mu.Unlock()
	switch {
	case cur != "" && l == cur+": done":
		r.endSpinner("✓ " + cur)
	case cur != "" && l == cur+": failed":
		r.endSpinner("✗ " + cur)
	default:
		r.endSpinner("")
		r.mu.Lock()
		fmt.Fprintln(r.w, l)
		r.mu.Unlock()
	}
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (r *lineRenderer) startSpinner(step string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.step, r.stop, r.done = step, make(chan struct{}), make(chan struct{})
	stop, done := r.stop, r.done
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			r.mu.Lock()
			fmt.Fprintf(r.w, "\r\033[K%s %s", spinnerFrames[i%len(spinnerFrames)], step)
			r.mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
}

// endSpinner stops the spinner, replacing its line with final (or, when
// final is "", with the bare step so the record stays on screen).
func (r *lineRenderer) endSpinner(final string) {
	r.mu.Lock()
	step, stop, done := r.step, r.stop, r.done
	r.step, r.stop, r.done = "", nil, nil
	r.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
	if final == "" {
		final = "… " + step
	}
	r.mu.Lock()
	fmt.Fprintf(r.w, "\r\033[K%s\n", final)
	r.mu.Unlock()
}

func (r *lineRenderer) close() { r.endSpinner("") }

// knownShortList is the installable first-party modules, for usage text.
func knownShortList() []string {
	var out []string
	for _, k := range manifest.KnownModules() {
		out = append(out, k.Short)
	}
	return out
}
