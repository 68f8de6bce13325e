package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

// setupCommand is `parachute setup` (reference lifecycle.md §3.6): on a
// terminal, offer the first-party modules not yet installed, ask which to
// install and, before installing anything, the questions those installs
// would ask (vault's first vault name, scribe's transcription provider),
// then install each through the same path as `parachute install`.
func setupCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "setup",
		Usage: "pick first-party modules to install, answering their questions up front (needs a terminal)",
		Description: `Lists the first-party modules that are not installed yet, asks which to install
(numbers or names, comma-separated; Enter for all), asks vault's first vault
name and scribe's transcription provider before anything is installed, then
installs each pick as ` + "`parachute install <module>`" + ` would. A failed install does not
stop the others; the exit code is the first failure's.

Without a terminal on stdin and stdout it only says what is installed; use
` + "`parachute install <module>`" + ` in scripts.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tag", Usage: "npm dist-tag or exact version for every pick"},
			&cli.BoolFlag{Name: "no-start", Usage: "register the picks without starting them"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fail(ExitUsage, "parachute setup: unknown argument %q\nusage: parachute setup [--tag T] [--no-start]", c.Args().First())
			}
			return runSetup(e, c.Context, c.String("tag"), c.Bool("no-start"))
		},
	}
}

// setupInstall installs one pick; tests replace it to see what setup asks
// for without reaching the npm registry.
var setupInstall = func(e *env, ctx context.Context, a installArgs) error { return e.install(ctx, a) }

// setupTries is how many unusable answers a setup question takes before
// setup gives up (the scribe picker has the same limit).
const setupTries = 5

func runSetup(e *env, ctx context.Context, tag string, noStart bool) error {
	paths, err := e.paths()
	if err != nil {
		return rootErr(err)
	}
	e.printf("Parachute setup — install the modules you want.\n\n")
	installed := installedShorts(paths)
	var offered []manifest.Known
	var have []string
	for _, k := range manifest.KnownModules() {
		if installed[k.Short] {
			have = append(have, k.Short)
		} else {
			offered = append(offered, k)
		}
	}
	if len(have) > 0 {
		e.printf("Already installed:\n")
		for _, s := range have {
			e.printf("  ✓ %s\n", s)
		}
		e.printf("\n")
	}
	if len(offered) == 0 {
		e.printf("All known services are already installed. Nothing to do.\n")
		return nil
	}
	if !isTerminal(stdin) || !isTerminal(e.stdout) {
		return fail(ExitFail, "Non-interactive shell — `parachute setup` needs a TTY. Run interactively, or use `parachute install <svc>` directly.")
	}

	in := bufio.NewReader(stdin)
	for i, k := range offered {
		blurb := k.Tagline
		if blurb == "" {
			blurb = k.DisplayName
		}
		e.printf("  [%d] %-8s — %s\n", i+1, k.Short, blurb)
	}
	picks, ok := askSetup(e, in, "Which to install? (numbers/names, comma-separated; Enter for all; q to quit): ",
		func(ans string) ([]string, error) { return parseSetupPicks(ans, offered, installed) })
	if !ok {
		return fail(ExitFail, "Aborted: nothing was installed.")
	}

	// The questions the installs would ask, all before the first install.
	base := installArgs{tag: tag, noStart: noStart}
	args := map[string]installArgs{}
	for _, short := range picks {
		a := base
		a.arg = short
		switch short {
		case "vault":
			name, _ := askSetup(e, in, "vault — name (default: default): ", func(ans string) (string, error) {
				if ans == "" {
					return "", nil
				}
				if why := manifest.CheckVaultName(ans); why != "" {
					return "", errors.New(why)
				}
				return ans, nil
			})
			a.vaultName = name
		case "scribe":
			readKey := func() (string, error) {
				b, err := term.ReadPassword(int(stdin.Fd())) // a secret: not echoed
				e.printf("\n")
				return string(b), err
			}
			choice := pickScribeProvider(in, e.stdout, readKey)
			a.scribeAsked = &choice
		}
		args[short] = a
	}

	first := 0
	for _, short := range picks {
		e.printf("\n— %s —\n", short)
		if code := exitCodeOf(e, setupInstall(e, ctx, args[short])); code != ExitOK && first == 0 {
			first = code
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if first != 0 {
		return fail(first, "⚠ One or more installs returned a non-zero exit code (%d). Fix what it says and run `parachute install <module>` for the ones that failed.", first)
	}
	e.printf("\nSetup complete.\n")
	rows, _ := manifest.LoadLenient(paths.ServicesJSON())
	for _, short := range picks {
		k, _ := manifest.KnownByShort(short)
		if row, ok := rows.Find(short); ok && len(row.Paths) > 0 {
			e.printf("  ✓ %s — http://127.0.0.1:%d%s\n", k.ManifestName, row.Port, strings.TrimSuffix(row.Paths[0], "/"))
		} else {
			e.printf("  ⚠ %s not in services.json — run `parachute status` to see what happened.\n", k.ManifestName)
		}
	}
	e.printf("\n`parachute status` lists every module; the hub's discovery document is /.well-known/parachute.json.\n")
	return nil
}

// askSetup asks prompt until parse accepts the trimmed answer, at most
// setupTries times; ok is false when it gave up or input ended.
func askSetup[T any](e *env, in *bufio.Reader, prompt string, parse func(string) (T, error)) (v T, ok bool) {
	for try := 0; try < setupTries; try++ {
		e.printf("%s", prompt)
		line, rerr := in.ReadString('\n')
		got, err := parse(strings.TrimSpace(line))
		if err == nil && (rerr == nil || line != "") {
			return got, true
		}
		if rerr != nil || errors.Is(err, errSetupQuit) {
			e.printf("\n")
			return v, false
		}
		e.printf("%v\n", err)
	}
	e.printf("Too many invalid answers.\n")
	return v, false
}

// errSetupQuit is the answer "q": stop without installing anything.
var errSetupQuit = errors.New("quit")

// parseSetupPicks reads the answer to "Which to install?": empty or "all"
// picks every offered module, "q" quits (errSetupQuit); otherwise tokens split on commas and spaces,
// each a 1-based number or a name (any case), duplicates dropped.
func parseSetupPicks(ans string, offered []manifest.Known, installed map[string]bool) ([]string, error) {
	switch strings.ToLower(ans) {
	case "q", "quit", "exit":
		return nil, errSetupQuit
	}
	if ans == "" || strings.EqualFold(ans, "all") {
		var all []string
		for _, k := range offered {
			all = append(all, k.Short)
		}
		return all, nil
	}
	var picks []string
	for _, t := range strings.FieldsFunc(ans, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		var short string
		if n, err := strconv.Atoi(t); err == nil {
			if n < 1 || n > len(offered) {
				return nil, fmt.Errorf("out-of-range index %q (offered 1..%d)", t, len(offered))
			}
			short = offered[n-1].Short
		} else {
			name := strings.ToLower(t)
			i := slices.IndexFunc(offered, func(k manifest.Known) bool { return k.Short == name })
			switch {
			case i >= 0:
				short = name
			case installed[name]:
				return nil, fmt.Errorf("%q is already installed (`parachute upgrade %s` updates it)", t, name)
			default:
				return nil, fmt.Errorf("unknown service %q", t)
			}
		}
		if !slices.Contains(picks, short) {
			picks = append(picks, short)
		}
	}
	if len(picks) == 0 {
		return nil, errors.New("no services picked — try again")
	}
	return picks, nil
}

// installedShorts are the modules services.json registers (a broken file
// counts as none: setup then offers everything and install reports it).
func installedShorts(paths config.Paths) map[string]bool {
	out := map[string]bool{}
	f, _ := manifest.LoadLenient(paths.ServicesJSON())
	if f == nil {
		return out
	}
	for _, row := range f.Services {
		out[manifest.ShortName(row.Name)] = true
	}
	return out
}

// exitCodeOf prints err as Main would and returns its exit code.
func exitCodeOf(e *env, err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(e.stderr, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(e.stderr, err)
	return ExitFail
}
