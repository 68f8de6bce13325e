// Package install installs, upgrades and uninstalls Parachute modules: a
// first-party module by short name (its npm package, with bun when present,
// else npm), a local directory used in place, a local npm tarball, or an
// npm spec. It validates .parachute/module.json, assigns a port, registers
// the services.json row, and (given a Runtime, i.e. a running hub) starts
// the module and waits for it to be ready. Replacing an installed module
// keeps the previous files until the new version is healthy and puts them
// back when it is not.
//
// The package is used by the CLI when the hub is down and by the hub's
// module-operations API when it runs, so both go through the same code. It
// never prints: progress goes to a Reporter.
//
// Package names from tarballs and installed package.json files are checked
// against npm's naming rules (CheckPackageName), and every directory the
// installer moves or removes must lie inside the package manager's global
// root, also through symlinks. A replacement is journaled step by step in
// <root>/.install-journal.json; Recover, run by the hub at boot and by
// every install, upgrade and uninstall, finishes or rolls back one that a
// crash or kill -9 interrupted.
package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

// Runtime runs modules; in practice the hub's supervisor. A nil Runtime
// means no hub is running: the installer then changes only the disk and the
// module starts with the hub.
type Runtime interface {
	// Start starts short from its services.json row, or restarts it when it
	// runs, and returns nil once it is ready (else why not).
	Start(ctx context.Context, short string) error
	// Stop stops short; a module that does not run is not an error.
	Stop(ctx context.Context, short string) error
}

// Options configures an Installer. Only Paths is required.
type Options struct {
	Paths config.Paths
	// Runner runs bun, npm and git; nil means ExecRunner.
	Runner Runner
	// Environ is the environment for those programs (PATH, HOME,
	// BUN_INSTALL, NPM_CONFIG_PREFIX, PARACHUTE_INSTALL_CHANNEL are read
	// from it too); nil means os.Environ.
	Environ func() []string
	// Ports probes listening ports; nil means SystemPorts.
	Ports PortProbe
	// Runtime starts and stops modules; nil when the hub is not running.
	Runtime Runtime
	// Reporter receives progress; nil means Discard.
	Reporter Reporter
	// PackageManager restricts installs to "bun" or "npm"; "" prefers bun
	// when it is installed, else npm.
	PackageManager string
	// ModuleEnv is the environment a module's process gets from the hub
	// (its services.json row, .env and the hub's origin), for the init
	// step (initstep.go); nil means the installer's Environ.
	ModuleEnv func(short string) ([]string, error)
}

// Installer installs, upgrades and uninstalls modules under one config root.
// One Installer serves one operation at a time; concurrent operations (in
// this process or others) are serialised by a lock file under the root.
type Installer struct {
	paths   config.Paths
	runner  Runner
	environ func() []string
	ports   PortProbe
	rt      Runtime
	rep     Reporter
	onlyPM  string
	modEnv  func(short string) ([]string, error)

	pmOnce sync.Once // guards pms: package managers are found once
	pms    []pkgManager
}

// New returns an Installer.
func New(o Options) *Installer {
	in := &Installer{paths: o.Paths, runner: o.Runner, environ: o.Environ, ports: o.Ports, rt: o.Runtime, rep: o.Reporter, onlyPM: o.PackageManager, modEnv: o.ModuleEnv}
	if in.runner == nil {
		in.runner = ExecRunner
	}
	if in.environ == nil {
		in.environ = os.Environ
	}
	if in.ports == nil {
		in.ports = SystemPorts{}
	}
	if in.rep == nil {
		in.rep = Discard
	}
	return in
}

func (in *Installer) getenv(key string) string {
	v, _ := envValue(in.environ(), key) // the last one wins, as in os/exec
	return v
}

// Errors callers branch on.
var (
	// ErrNotInstalled means the module has no services.json row.
	ErrNotInstalled = errors.New("module is not installed")
	// ErrDowngrade means the new version is older and downgrades were not allowed.
	ErrDowngrade = errors.New("downgrade refused")
	// ErrCollision means a third-party module took a first-party or reserved name.
	ErrCollision = errors.New("module name collides with a first-party module")
	// ErrNotModule means the package ships no .parachute/module.json.
	ErrNotModule = errors.New("not a Parachute module")
)

// reservedNames can never be third-party module names: "hub" is the hub
// itself and "operations" is a route under /api/modules/.
var reservedNames = map[string]bool{"hub": true, "parachute-hub": true, "operations": true}

// Request is one install.
type Request struct {
	// Source is a first-party short ("vault", "vault@1.2.3"), a directory
	// or .tgz path, or an npm spec.
	Source string
	// Channel ("rc" or "latest") and Tag (a dist-tag or exact version)
	// pick the npm version; Tag wins.
	Channel, Tag string
	// Port is the port to register a new module on; 0 assigns one. An
	// installed module keeps its port unless Port names another.
	Port int
	// NoStart leaves the module stopped (it starts with the next hub boot).
	NoStart bool
	// AllowDowngrade permits replacing a module with an older version.
	AllowDowngrade bool
	// DryRun reports what would happen and changes nothing.
	DryRun bool
	// NoCreate skips a new module's init command (vault's creates its
	// first vault), and leaves the module stopped: there is nothing to
	// serve yet.
	NoCreate bool
	// VaultName names the first vault a new vault install creates
	// ("default" when empty).
	VaultName string
	// ScribeProvider and ScribeKey, for scribe, pick its transcription
	// provider and that provider's API key (a secret: never logged).
	ScribeProvider, ScribeKey string

	// upgrade makes an unchanged version a no-op instead of a reinstall.
	upgrade bool
}

// Result describes what an install or upgrade did.
type Result struct {
	// Short is the module's short name; Name its services.json row name.
	Short, Name string
	Port        int
	InstallDir  string
	// Version is the version now installed (or, for a dry run, the one
	// that would be); PreviousVersion the one it replaced ("" when new).
	Version, PreviousVersion string
	Source                   SourceKind
	// Manager is the package manager used ("bun", "npm"), or "" when the
	// module is used in place or pulled with git.
	Manager string
	// Replaced reports that an installed module was replaced.
	Replaced bool
	// Unchanged reports that nothing needed doing (same version).
	Unchanged bool
	// Started reports that the Runtime started the module and it is ready.
	Started bool
	// DryRun reports that nothing was changed.
	DryRun bool
}

// Summary is a one-line account of the result for the operator.
func (r *Result) Summary() string {
	switch {
	case r.DryRun && r.Replaced:
		return fmt.Sprintf("dry run: %s would go from %s to %s; nothing changed", r.Short, orUnknown(r.PreviousVersion), orUnknown(r.Version))
	case r.DryRun:
		return fmt.Sprintf("dry run: %s %s would be installed; nothing changed", r.Short, orUnknown(r.Version))
	case r.Unchanged:
		return fmt.Sprintf("✓ %s is already at %s; nothing restarted", r.Short, orUnknown(r.Version))
	case r.Started:
		return fmt.Sprintf("✓ %s %s is running on port %d", r.Short, r.Version, r.Port)
	}
	return fmt.Sprintf("✓ %s %s is installed on port %d (not started)", r.Short, r.Version, r.Port)
}

// DowngradeError refuses replacing a version with an older one.
type DowngradeError struct {
	Short, Installed, Target string
}

func (e *DowngradeError) Error() string {
	return fmt.Sprintf("%s: %s is older than the installed %s — refusing to downgrade (pass --allow-downgrade to do it anyway)",
		e.Short, e.Target, e.Installed)
}

// Unwrap makes errors.Is(err, ErrDowngrade) true.
func (e *DowngradeError) Unwrap() error { return ErrDowngrade }

// RollbackError says a new version failed its readiness check and the
// previous one was put back.
type RollbackError struct {
	Short string
	// Failed is the version that did not become ready; Restored the one
	// put back.
	Failed, Restored string
	// Cause is why the new version failed.
	Cause error
	// RestoreErr is set when putting the old version back failed too.
	RestoreErr error
}

func (e *RollbackError) Error() string {
	msg := fmt.Sprintf("%s %s did not become ready (%v); rolled back to %s", e.Short, e.Failed, e.Cause, e.Restored)
	if e.RestoreErr != nil {
		msg += fmt.Sprintf(", but restoring it failed too: %v", e.RestoreErr)
	}
	return msg
}

// Unwrap returns the cause.
func (e *RollbackError) Unwrap() error { return e.Cause }

// StartError says a newly installed module is registered but did not start.
type StartError struct {
	Short string
	Err   error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("%s is installed but did not start: %v", e.Short, e.Err)
}

// Unwrap returns the start failure.
func (e *StartError) Unwrap() error { return e.Err }

// Install installs req.Source. A module that is already installed is
// replaced in place (same row, same port, same .env) and restarted; a
// downgrade is refused unless req.AllowDowngrade. Without a Runtime, or
// with NoStart, the module is only registered.
func (in *Installer) Install(ctx context.Context, req Request) (*Result, error) {
	if why := manifest.CheckVaultName(req.VaultName); req.VaultName != "" && why != "" {
		return nil, fmt.Errorf("--vault-name %q: %s", req.VaultName, why)
	}
	src, err := ParseSource(req.Source, SourceOptions{Channel: req.Channel, Tag: req.Tag, DefaultChannel: in.defaultChannel()})
	if err != nil {
		return nil, err
	}
	for _, n := range src.Notes {
		in.rep.Info(n)
	}
	unlock, err := in.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := in.recoverInterrupted(); err != nil {
		return nil, err
	}
	return in.apply(ctx, src, req, "")
}

func (in *Installer) lock(ctx context.Context) (func(), error) {
	return lockRoot(ctx, in.paths.Root, func() { in.rep.Info("waiting for another install, upgrade or uninstall to finish …") })
}

// defaultChannel is PARACHUTE_INSTALL_CHANNEL when valid, else "latest".
func (in *Installer) defaultChannel() string {
	switch v := in.getenv("PARACHUTE_INSTALL_CHANNEL"); v {
	case "":
		return ""
	case ChannelLatest, ChannelRC:
		return v
	default:
		in.rep.Warn(fmt.Sprintf("PARACHUTE_INSTALL_CHANNEL=%q is not a valid channel (latest or rc); using latest.", v))
		return ChannelLatest
	}
}
