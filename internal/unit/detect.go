package unit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
)

// host is the part of the OS that DetectHubOptions reads; tests replace it.
type host struct {
	getenv      func(string) string
	euid        func() int
	lookupUser  func(name string) (*user.User, error)
	currentUser func() (*user.User, error)
	executable  func() (string, error)
	arg0        string
	lookPath    func(string) (string, error)
	sameFile    func(a, b string) bool
}

func realHost() host {
	arg0 := ""
	if len(os.Args) > 0 {
		arg0 = os.Args[0]
	}
	return host{
		getenv:      os.Getenv,
		euid:        os.Geteuid,
		lookupUser:  user.Lookup,
		currentUser: user.Current,
		executable:  os.Executable,
		arg0:        arg0,
		lookPath:    exec.LookPath,
		sameFile: func(a, b string) bool {
			fa, errA := os.Stat(a)
			fb, errB := os.Stat(b)
			return errA == nil && errB == nil && os.SameFile(fa, fb)
		},
	}
}

// DetectHubOptions fills HubOptions from this process and host, the way
// `parachute unit render` and the installer need them:
//   - Binary: this executable (see binaryPath);
//   - Scope: system when running as root, else user;
//   - User: userName when given, else $SUDO_USER under sudo, so
//     `sudo parachute ...` installs a unit that runs as the operator, not as
//     root (the reference hub wrote User=root there), else the current
//     user when not root (used only if a system unit is rendered);
//   - Home: that user's home directory, else the current user's;
//   - Root: root when given, else $PARACHUTE_HOME, else <Home>/.parachute;
//   - PATH and BUN_INSTALL from the environment (BUN_INSTALL only when the
//     unit runs as the invoking account).
func DetectHubOptions(userName, root string) (HubOptions, error) {
	return detectHubOptions(realHost(), userName, root)
}

func detectHubOptions(h host, userName, root string) (HubOptions, error) {
	bin, err := binaryPath(h)
	if err != nil {
		return HubOptions{}, err
	}
	opts := HubOptions{Binary: bin, Scope: ScopeUser, PATH: h.getenv("PATH")}
	if h.euid() == 0 {
		opts.Scope = ScopeSystem
	}
	invoking := userName == ""
	if userName == "" && opts.Scope == ScopeSystem {
		if su := h.getenv("SUDO_USER"); su != "" && su != "root" {
			userName, invoking = su, false
		}
	}
	if userName != "" {
		u, err := h.lookupUser(userName)
		if err != nil {
			return HubOptions{}, fmt.Errorf("looking up user %s: %w", userName, err)
		}
		opts.User, opts.Home = u.Username, u.HomeDir
	} else if u, err := h.currentUser(); err == nil && u.HomeDir != "" {
		opts.Home = u.HomeDir
		if h.euid() != 0 {
			// Unused by user units; a system unit rendered by a
			// non-root operator runs as that operator.
			opts.User = u.Username
		}
	} else {
		opts.Home = h.getenv("HOME")
	}
	if invoking {
		opts.BunInstall = h.getenv("BUN_INSTALL")
	}
	switch {
	case root != "":
	case h.getenv("PARACHUTE_HOME") != "":
		root = h.getenv("PARACHUTE_HOME")
	case opts.Home != "":
		root = filepath.Join(opts.Home, ".parachute")
	default:
		return HubOptions{}, errors.New("cannot find a home directory for the config root; set PARACHUTE_HOME")
	}
	if opts.Root, err = filepath.Abs(root); err != nil {
		return HubOptions{}, fmt.Errorf("resolving config root %s: %w", root, err)
	}
	if opts.BunInstall != "" && !filepath.IsAbs(opts.BunInstall) {
		opts.BunInstall = ""
	}
	return opts, nil
}

// binaryPath is the absolute path the unit should run. It prefers the path
// this process was started by (argv[0], through PATH) over os.Executable
// when both name the same file, because os.Executable resolves symlinks on
// Linux: under Homebrew it would give the versioned Cellar path, which the
// next `brew upgrade` deletes, while /opt/homebrew/bin/parachute stays.
func binaryPath(h host) (string, error) {
	exe, err := h.executable()
	if err != nil {
		return "", fmt.Errorf("finding the parachute binary: %w", err)
	}
	if h.arg0 != "" {
		cand := h.arg0
		if !strings.Contains(cand, "/") {
			if cand, err = h.lookPath(cand); err != nil {
				cand = ""
			}
		}
		if cand != "" {
			if abs, err := filepath.Abs(cand); err == nil && h.sameFile(abs, exe) {
				return abs, nil
			}
		}
	}
	return exe, nil
}
