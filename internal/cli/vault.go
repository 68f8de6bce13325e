package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/modops"
	"github.com/openparachute/parachute/internal/secfile"
)

// vaultBin is the program `parachute vault` forwards to.
const vaultBin = "parachute-vault"

// ExitNotFound is `parachute vault`'s exit code when parachute-vault is not
// installed (the shell's "command not found").
const ExitNotFound = 127

func vaultCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "vault",
		Usage:     "run the installed parachute-vault with the hub's environment",
		ArgsUsage: "<parachute-vault arguments…>",
		Description: `Runs parachute-vault with every argument as given (flags included: ` + "`parachute vault --help`" + `
is vault's help), with the environment the hub gives the vault module: its .env,
PORT, PARACHUTE_HOME and the running hub's PARACHUTE_HUB_ORIGIN. The exit code is
parachute-vault's (128+N when a signal N ended it).`,
		// Why: every argument belongs to parachute-vault; urfave/cli must
		// not take --help or any other flag for itself.
		SkipFlagParsing: true,
		HideHelp:        true,
		Action: func(c *cli.Context) error {
			return runVault(e, c.Context, c.Args().Slice())
		},
	}
}

// runVault runs parachute-vault with args, stdio passed through, and
// returns its exit status (reference lifecycle.md §1.5).
func runVault(e *env, ctx context.Context, args []string) error {
	paths, err := e.paths()
	if err != nil {
		return rootErr(err)
	}
	row, _ := findVaultRow(paths) // a broken services.json only loses the installDir hint and PORT
	bin, err := findVault(row, getenv)
	if err != nil {
		return fail(ExitNotFound, "%s not found on PATH.\nInstall it with: parachute install vault", vaultBin)
	}
	vars, err := manifest.LoadEnv(paths.ModuleEnv("vault"))
	if err != nil {
		e.eprintf("warning: not using %s: %v\n", paths.ModuleEnv("vault"), err)
		vars = nil
	}
	base := append(os.Environ(), "PARACHUTE_HOME="+paths.Root)
	cmd := exec.Command(bin, args...)
	cmd.Env = modops.ModuleEnviron(base, row.Port, vaultIssuer(ctx, paths), vars)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, e.stdout, e.stderr
	// Why: as root (`sudo parachute vault …`, `fly ssh console`) vault
	// would create files the hub's user cannot write in a config root that
	// user owns (a new vault's directory, vault.db's -wal and -shm), and
	// the vault the hub runs would fail on them. Like the hub, it runs as
	// the owner of the config root.
	if cred := rootOwner(paths.Root); cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	return runForwarded(cmd)
}

// rootOwner is the credential to run a module command with when this
// process is root and the config root belongs to another user (its owner
// and group, no supplementary groups); nil otherwise.
func rootOwner(root string) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	return &syscall.Credential{Uid: st.Uid, Gid: st.Gid, Groups: []uint32{}}
}

// runForwarded runs cmd to its end and maps how it ended to our exit code.
func runForwarded(cmd *exec.Cmd) error {
	// Why: a Ctrl-C or Ctrl-\ reaches the whole foreground process group,
	// so parachute-vault gets it from the terminal; this process must not
	// die of it first (the shell would show its prompt while vault is
	// still cleaning up, and the exit code would be ours, not vault's).
	// SIGTERM and SIGHUP are sent to this process alone, so they are
	// passed on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail(ExitNotFound, "failed to run %s: %v\n  Its interpreter (bun, for the npm package) may be missing; `parachute install vault` reinstalls it.", cmd.Path, err)
		}
		return fail(ExitFail, "failed to run %s: %v", vaultBin, err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGTERM || s == syscall.SIGHUP {
					_ = cmd.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return silent(128 + int(ws.Signal()))
		}
		return silent(ee.ExitCode())
	}
	return fail(ExitFail, "failed to run %s: %v", vaultBin, err)
}

// findVaultRow is vault's main services.json row (zero when none).
func findVaultRow(paths config.Paths) (manifest.Service, error) {
	f, err := manifest.Load(paths.ServicesJSON())
	if err != nil {
		return manifest.Service{}, err
	}
	row, _ := f.Find("vault")
	return row, nil
}

// findVault finds parachute-vault where `parachute install vault` put it:
// the bin its package declares in the row's installDir, bun's global bin
// directory ($BUN_INSTALL/bin, else ~/.bun/bin), npm's
// ($NPM_CONFIG_PREFIX/bin), then PATH.
func findVault(row manifest.Service, getenv func(string) string) (string, error) {
	var cands []string
	if row.InstallDir != "" {
		if b := packageBin(row.InstallDir, vaultBin); b != "" {
			cands = append(cands, b)
		}
	}
	bunHome := getenv("BUN_INSTALL")
	if bunHome == "" {
		if home, err := os.UserHomeDir(); err == nil {
			bunHome = filepath.Join(home, ".bun")
		}
	}
	if bunHome != "" {
		cands = append(cands, filepath.Join(bunHome, "bin", vaultBin))
	}
	if p := getenv("NPM_CONFIG_PREFIX"); p != "" {
		cands = append(cands, filepath.Join(p, "bin", vaultBin))
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return c, nil
		}
	}
	return exec.LookPath(vaultBin)
}

// packageBin is the file package.json in dir declares as the command
// name ("" when none, or when it would lie outside dir).
func packageBin(dir, name string) string {
	data, err := secfile.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct {
		Name string          `json:"name"`
		Bin  json.RawMessage `json:"bin"`
	}
	if json.Unmarshal(data, &pkg) != nil {
		return ""
	}
	var rel string
	var one string
	var many map[string]string
	switch {
	case json.Unmarshal(pkg.Bin, &one) == nil && path.Base(pkg.Name) == name:
		rel = one // a string bin is named after the package (without its scope)
	case json.Unmarshal(pkg.Bin, &many) == nil:
		rel = many[name]
	}
	rel = filepath.Clean(filepath.FromSlash(rel))
	if rel == "" || rel == "." || !filepath.IsLocal(rel) {
		return ""
	}
	return filepath.Join(dir, rel)
}

// vaultIssuer is the running hub's issuer (GET /api/hub), which the hub
// gives its modules as PARACHUTE_HUB_ORIGIN; without a hub that answers,
// the configured one ("" leaves the inherited environment as it is).
func vaultIssuer(ctx context.Context, paths config.Paths) string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var hub struct {
		Issuer string `json:"issuer"`
	}
	if err := hubclient.New(paths).JSON(ctx, http.MethodGet, "/api/hub", nil, &hub); err == nil && hub.Issuer != "" {
		return hub.Issuer
	}
	return config.ConfiguredIssuer(getenv)
}
