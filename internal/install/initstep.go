package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/manifest"
)

// The init step (reference lifecycle.md §3.4 step 4): after a module is
// first installed and registered, and before it starts, the hub runs the
// module's init command, which provisions what the module serves. Only
// vault has one: `parachute-vault init` creates the first vault under
// <root>/vault/ (config.yaml, .env, <name>/vault.yaml and its database)
// and rewrites its services.json row with a mount per vault.
//
// What vault 0.3.6-rc.30's init does under a hub (src/cli.ts cmdInit), and
// why the hub passes what it passes:
//   - it reads PARACHUTE_HOME for every path (config.ts, services-manifest.ts),
//     so the step sets it to this hub's root;
//   - it has no variable that says "a hub supervises me"; its flag for that
//     is --no-autostart ("for CI, dev sandboxes, Docker, or any environment
//     where another supervisor manages the process"), which skips writing
//     ~/.config/systemd/user/parachute-vault.service or the launchd plist
//     and the `systemctl --user daemon-reload/enable/restart` that crashed
//     the reference's init without a user bus (with --no-autostart vault
//     only runs `systemctl --user stop/disable` inside try/catch, and
//     persists autostart: false in config.yaml so later runs keep it);
//   - without a terminal it writes an MCP entry with a fresh token into
//     ~/.claude.json; --no-mcp stops that, because a daemon must not edit
//     the home directory of whatever user runs the hub (the operator adds
//     it with `parachute-vault mcp-install`);
//   - --vault-name N names the first vault (default "default"); it is
//     ignored when a vault already exists.

// InitTimeout bounds a module's init command.
const InitTimeout = 5 * time.Minute

// initArgv is the init command of a newly installed module, or nil when
// it has none.
func initArgv(short, vaultName string) []string {
	if short != "vault" {
		return nil
	}
	argv := []string{"parachute-vault", "init", "--no-autostart", "--no-mcp"}
	if vaultName != "" {
		argv = append(argv, "--vault-name", vaultName)
	}
	return argv
}

// InitError is a module's init command that failed; the install was undone.
type InitError struct {
	Short string
	Err   error
}

func (e *InitError) Error() string {
	return fmt.Sprintf("%v — %s was not installed; fix the cause and run `parachute install %s` again", e.Err, e.Short, e.Short)
}

// Unwrap returns the command's failure.
func (e *InitError) Unwrap() error { return e.Err }

// initPlaced runs a new module's init command once its row is registered
// (row is that row). It does nothing for a replacement (old != nil) or a
// module without one. With req.NoCreate it only says so and sets
// req.NoStart. A failing init undoes the install: the row, the package,
// and <root>/<short> when the init created it.
func (in *Installer) initPlaced(ctx context.Context, pl placement, row manifest.Service, old *manifest.Service, req *Request) error {
	short := manifest.ShortName(row.Name)
	argv := initArgv(short, req.VaultName)
	switch {
	case argv == nil && req.VaultName != "":
		in.rep.Warn(fmt.Sprintf("--vault-name is for vault; %s has no instances to name", short))
		return nil
	case argv == nil:
		return nil
	case old != nil:
		if req.VaultName != "" {
			in.rep.Warn(fmt.Sprintf("%s is already installed, so --vault-name %s was not used; add a vault with POST /vaults", short, req.VaultName))
		}
		return nil
	case req.NoCreate:
		in.rep.Info(fmt.Sprintf("(skipping %s — --no-create: module installed, no instance created)", strings.Join(argv[:2], " ")))
		req.NoStart = true
		return nil
	}
	home := in.paths.ModuleDir(short)
	fresh := !exists(home)
	_, err := in.runModuleCmd(ctx, pl, short, argv, InitTimeout, false)
	if err == nil {
		err = in.keepHubFields(row)
	}
	if err == nil {
		return nil
	}
	in.rep.Warn(fmt.Sprintf("undoing the install of %s", short))
	if derr := dropRow(in.paths.ServicesJSON(), row.Name); derr != nil {
		in.rep.Warn(derr.Error())
	}
	in.undoQuiet(ctx, pl)
	if fresh {
		if rerr := os.RemoveAll(home); rerr != nil {
			in.rep.Warn(fmt.Sprintf("could not remove %s, which the failed init created: %v", home, rerr))
		}
	}
	return &InitError{Short: short, Err: err}
}

// runModuleCmd runs one of short's commands (an init, `parachute-vault
// create`) with the module's environment (initEnv) from its package
// directory, bounded by timeout, each output line going to the Reporter
// as it comes; with capture, stdout is returned instead of shown.
func (in *Installer) runModuleCmd(ctx context.Context, pl placement, short string, argv []string, timeout time.Duration, capture bool) ([]byte, error) {
	env, err := in.initEnv(short, pl)
	if err != nil {
		return nil, err
	}
	bin, err := initBinary(pl.dir, env, argv[0])
	if err != nil {
		return nil, fmt.Errorf("running %s: %w (the package declares no such bin, and it is not on the hub's PATH)", strings.Join(argv, " "), err)
	}
	in.rep.Info(fmt.Sprintf("Running %s…", strings.Join(argv, " ")))
	return runStreamed(ctx, streamCmd{Cmd: Cmd{Dir: pl.dir, Env: env, Name: bin, Args: argv[1:]}, Shown: strings.Join(argv, " "),
		Timeout: timeout, Stdout: capture, OnLine: func(l string) { in.rep.Info("  " + l) }})
}

// initEnv is the environment of an init (or other module) command: what
// the hub gives the module's process (ModuleEnv), with PARACHUTE_HOME set
// to this root and the package manager's bin directory on PATH.
//
// Why PARACHUTE_HOME: vault resolves every file, services.json included,
// from it (else ~/.parachute); a hub whose root is elsewhere must not have
// its module provision into another root. Why the bin directory: bun and
// npm put a package's executables there, and a hub started by a service
// manager often has a PATH without it.
func (in *Installer) initEnv(short string, pl placement) ([]string, error) {
	env := in.environ()
	if in.modEnv != nil {
		e, err := in.modEnv(short)
		if err != nil {
			return nil, fmt.Errorf("building the environment of %s: %w", short, err)
		}
		env = e
	}
	env = setEnv(env, "PARACHUTE_HOME", in.paths.Root)
	if pl.pm != nil {
		if dir := binDir(*pl.pm, in.bunInstall()); dir != "" {
			path, _ := envValue(env, "PATH")
			env = setEnv(env, "PATH", strings.TrimSuffix(path+string(os.PathListSeparator)+dir, string(os.PathListSeparator)))
		}
	}
	return env, nil
}

// binDir is where pm links the executables of the packages it installs
// globally: $BUN_INSTALL/bin for bun, <prefix>/bin for npm (whose root is
// <prefix>/lib/node_modules).
func binDir(pm pkgManager, bunInstall string) string {
	switch pm.name {
	case "bun":
		return filepath.Join(bunInstall, "bin")
	case "npm":
		return filepath.Join(filepath.Dir(filepath.Dir(pm.root)), "bin")
	}
	return ""
}

// keepHubFields puts the hub's facts back on a row the module's init
// rewrote: vault's init writes its own port (1940 unless configured),
// health ("/health") and version over the row; the hub assigned the port
// and owns the rest. Only the mounts are the module's: vault lists one
// per vault instance. A row the init removed is written again.
func (in *Installer) keepHubFields(ours manifest.Service) error {
	err := manifest.Update(in.paths.ServicesJSON(), func(f *manifest.File) error {
		for i, s := range f.Services {
			if s.Name != ours.Name {
				continue
			}
			row := ours
			if usableMounts(s.Paths) {
				row.Paths = s.Paths
				row.Health = healthUnder(row.Health, row.Paths)
			}
			f.Services[i] = row
			return nil
		}
		f.Services = append(f.Services, ours)
		return nil
	})
	if err != nil {
		return fmt.Errorf("updating the services.json row of %s after its init: %w", ours.Name, err)
	}
	return nil
}

// healthUnder keeps health when it lies under one of paths, else moves
// it under paths[0]: module.json's "/vault/default/health" means nothing
// once the first vault is called "work".
func healthUnder(health string, paths []string) string {
	for _, p := range paths {
		if p = strings.TrimRight(p, "/"); health == p || strings.HasPrefix(health, p+"/") {
			return health
		}
	}
	return strings.TrimRight(paths[0], "/") + "/health"
}

// vaultMounts is a copy of m with the installed vault's mounts and a
// health path under them.
func vaultMounts(m *manifest.Module, paths []string, health string) *manifest.Module {
	c := *m
	c.Paths = paths
	c.Health = healthUnder(firstNonEmpty(m.Health, health), paths)
	return &c
}

// usableMounts reports whether paths, as a module wrote them, name real
// mounts: vault writes ["/"] while it has no vault yet.
func usableMounts(paths []string) bool {
	if len(paths) == 0 {
		return false
	}
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") || p == "/" {
			return false
		}
	}
	return true
}

// dropRow removes the services.json row called name, if there is one.
func dropRow(servicesJSON, name string) error {
	err := manifest.Update(servicesJSON, func(f *manifest.File) error {
		kept := f.Services[:0]
		for _, s := range f.Services {
			if s.Name != name {
				kept = append(kept, s)
			}
		}
		f.Services = kept
		return nil
	})
	if err != nil {
		return fmt.Errorf("removing the services.json row of %s: %w", name, err)
	}
	return nil
}

// setEnv returns env with key set to value (any earlier settings of key
// removed).
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && k == key {
			continue
		}
		out = append(out, kv)
	}
	return append(out, key+"="+value)
}

// envValue is the last value of key in env.
func envValue(env []string, key string) (string, bool) {
	v, found := "", false
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v, found = val, true
		}
	}
	return v, found
}

// lookPathIn finds name on the PATH of env (absolute entries only: a
// relative entry would resolve against the hub's working directory).
func lookPathIn(env []string, name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path, _ := envValue(env, "PATH")
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH=%s: %w", name, path, os.ErrNotExist)
}

var errInitTimeout = errors.New("did not finish in time")

// packageBin is the file the package in dir declares for the executable
// name in its package.json "bin" (a map, or a string for the package's
// own name), or "" when it declares none, the file is not executable, or
// it lies outside dir.
//
// Why the package's own file before PATH: the init must be the version
// just installed, not another parachute-vault earlier on the hub's PATH
// (an older global install, a developer's checkout). Why inside dir,
// after symlinks: package.json is the package's data; "bin": "../../x"
// must not make the hub run a file of someone else's.
func packageBin(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct {
		Name string          `json:"name"`
		Bin  json.RawMessage `json:"bin"`
	}
	if json.Unmarshal(b, &pkg) != nil {
		return ""
	}
	var rel string
	var bins map[string]string
	if json.Unmarshal(pkg.Bin, &rel) == nil {
		if pkg.Name[strings.LastIndex(pkg.Name, "/")+1:] != name {
			rel = ""
		}
	} else if json.Unmarshal(pkg.Bin, &bins) == nil {
		rel = bins[name]
	}
	if rel == "" {
		return ""
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	p, err := filepath.EvalSymlinks(filepath.Join(realDir, rel))
	if err != nil || !within(realDir, p) {
		return ""
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return ""
	}
	return p
}

// initBinary is where to run argv0 of a module command from: the
// package's own bin, else argv0 on env's PATH.
func initBinary(dir string, env []string, argv0 string) (string, error) {
	if p := packageBin(dir, argv0); p != "" {
		return p, nil
	}
	return lookPathIn(env, argv0)
}
