// Package config knows the on-disk layout of a Parachute config root
// ($PARACHUTE_HOME, else ~/.parachute). It is the only package that builds
// paths under the root; everything else asks it.
package config

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
)

// DefaultHubPort is the hub's canonical port.
const DefaultHubPort = 1939

// ContainerHome is the config root that container images pin. Seeing it
// means "this hub runs in a container" (compatible with the reference hub).
const ContainerHome = "/parachute"

// SystemRoot is where the packaged (deb/rpm) system hub keeps its state.
const SystemRoot = "/var/lib/parachute"

// Root returns the config root: $PARACHUTE_HOME when set and non-empty,
// otherwise <home>/.parachute, where home is $HOME, or the OS user
// database's entry when $HOME is unset or empty (Node's os.homedir, Go's
// os.UserHomeDir and the reference hub all honour $HOME first, so `HOME=/x
// parachute ...` finds the same root in every one of them). When that personal root does not
// exist but the system hub's root does and this user can see into it (root,
// or a member of the parachute group), the system root is used: one hub per
// box, and its operators need no flags.
func Root() (string, error) {
	r, err := personalRoot()
	if err != nil {
		return "", err
	}
	if os.Getenv("PARACHUTE_HOME") == "" {
		if _, err := os.Stat(r); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(filepath.Join(SystemRoot, "hub.db")); err == nil {
				return SystemRoot, nil
			}
		}
	}
	return r, nil
}

func personalRoot() (string, error) {
	if v := os.Getenv("PARACHUTE_HOME"); v != "" {
		return filepath.Abs(v)
	}
	home := os.Getenv("HOME")
	if home == "" {
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	}
	if home == "" {
		return "", errors.New("cannot find a home directory for the config root; set PARACHUTE_HOME")
	}
	return filepath.Join(home, ".parachute"), nil
}

// Paths builds every path under one config root.
type Paths struct {
	Root string
}

// Load resolves the config root and returns its Paths.
func Load() (Paths, error) {
	r, err := Root()
	if err != nil {
		return Paths{}, err
	}
	return Paths{Root: r}, nil
}

// EnsureRoot creates the config root with mode 0700 when it is missing. An
// existing root keeps its mode: the operator may have chosen another one
// (the system package uses 0750 so the parachute group can read the token).
func (p Paths) EnsureRoot() error {
	if err := os.MkdirAll(p.Root, 0o700); err != nil {
		return fmt.Errorf("creating config root %s: %w", p.Root, err)
	}
	return nil
}

// ServicesJSON is the module registry.
func (p Paths) ServicesJSON() string { return filepath.Join(p.Root, "services.json") }

// OperatorToken is the operator's bearer token file (0600).
func (p Paths) OperatorToken() string { return filepath.Join(p.Root, "operator.token") }

// HubDB is the hub's SQLite database (signing keys, token registry).
func (p Paths) HubDB() string { return filepath.Join(p.Root, "hub.db") }

// HubRunDir holds the running hub's pid and port files.
func (p Paths) HubRunDir() string { return filepath.Join(p.Root, "hub", "run") }

// HubPortFile records the port the running hub bound.
func (p Paths) HubPortFile() string { return filepath.Join(p.HubRunDir(), "hub.port") }

// HubPIDFile records the running hub's pid.
func (p Paths) HubPIDFile() string { return filepath.Join(p.HubRunDir(), "hub.pid") }

// HubLogDir holds hub.log when a manager (launchd) writes the hub's output to a file.
func (p Paths) HubLogDir() string { return filepath.Join(p.Root, "hub", "logs") }

// WellKnownDir holds the static discovery fallback and a copy of the discovery doc.
func (p Paths) WellKnownDir() string { return filepath.Join(p.Root, "well-known") }

// ModuleDir is <root>/<short>.
func (p Paths) ModuleDir(short string) string { return filepath.Join(p.Root, short) }

// ModuleEnv is <root>/<short>/.env, merged into the module's environment.
func (p Paths) ModuleEnv(short string) string { return filepath.Join(p.Root, short, ".env") }

// ModuleLogDir is <root>/<short>/logs.
func (p Paths) ModuleLogDir(short string) string { return filepath.Join(p.Root, short, "logs") }

// ModuleLog is <root>/<short>/logs/<short>.log, the current (unrotated) log file.
func (p Paths) ModuleLog(short string) string {
	return filepath.Join(p.ModuleLogDir(short), short+".log")
}

// ModuleRunDir is <root>/<short>/run, where the hub records the child's pid
// and start time so a later hub can reap a group left behind.
func (p Paths) ModuleRunDir(short string) string { return filepath.Join(p.Root, short, "run") }

// LegacyModulePIDFile is <root>/<short>/run/<short>.pid written by the legacy detached model.
func (p Paths) LegacyModulePIDFile(short string) string {
	return filepath.Join(p.ModuleRunDir(short), short+".pid")
}
