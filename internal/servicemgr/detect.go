package servicemgr

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// DetectOptions is what Detect looks at. HostDetectOptions fills it from the
// running process; tests set the fields they want.
type DetectOptions struct {
	// GOOS is the platform ("linux", "darwin", ...). Empty: runtime.GOOS.
	GOOS string
	// EUID decides root (0) or not: root gets a system unit / LaunchDaemon.
	EUID int
	// UID owns per-user things: the user bus, lingering, the gui/<uid>
	// launchd domain.
	UID int
	// Home is the user's home directory (user unit and LaunchAgent paths).
	Home string
	// Getenv reads DBUS_SYSTEM_BUS_ADDRESS and XDG_RUNTIME_DIR. Nil: os.Getenv.
	Getenv func(string) string
	// Exists reports whether a path exists; Detect asks about
	// /run/systemd/system, systemd's own "I am PID 1" marker. Nil: os.Stat.
	Exists func(path string) bool
	// LookPath finds launchctl on darwin. Nil: exec.LookPath.
	LookPath func(file string) (string, error)
	// Runner runs launchctl, journalctl and ps. Nil: ExecRunner.
	Runner Runner
	// ForceKind skips detection and builds this kind (a flag or test knob).
	ForceKind Kind
}

// HostDetectOptions describes the running process.
func HostDetectOptions() DetectOptions {
	home, _ := os.UserHomeDir()
	return DetectOptions{
		GOOS:     runtime.GOOS,
		EUID:     os.Geteuid(),
		UID:      os.Getuid(),
		Home:     home,
		Getenv:   os.Getenv,
		Exists:   func(p string) bool { _, err := os.Stat(p); return err == nil },
		LookPath: exec.LookPath,
		Runner:   ExecRunner,
	}
}

// Detect picks the service manager:
//   - linux with /run/systemd/system (systemd is PID 1): the system manager
//     when EUID is 0, else the user manager, reached at
//     $XDG_RUNTIME_DIR/bus or /run/user/<uid>/bus (a missing bus is reported
//     by each operation, with ErrNoUserBus and what to do);
//   - darwin with launchctl: the system domain as root, else gui/<uid>;
//   - anything else (a container, an init-less host): None.
//
// The error is only for an unknown ForceKind.
func Detect(opts DetectOptions) (Manager, error) {
	if opts.GOOS == "" {
		opts.GOOS = runtime.GOOS
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Exists == nil {
		opts.Exists = func(p string) bool { _, err := os.Stat(p); return err == nil }
	}
	if opts.LookPath == nil {
		opts.LookPath = exec.LookPath
	}
	if opts.Runner == nil {
		opts.Runner = ExecRunner
	}
	kind := opts.ForceKind
	if kind == "" {
		kind = detectKind(opts)
	}
	switch kind {
	case KindSystemdSystem, KindSystemdUser:
		return NewSystemd(SystemdOptions{
			User:             kind == KindSystemdUser,
			SystemBusAddress: opts.Getenv("DBUS_SYSTEM_BUS_ADDRESS"),
			UID:              opts.UID,
			RuntimeDir:       opts.Getenv("XDG_RUNTIME_DIR"),
			Runner:           opts.Runner,
		}), nil
	case KindLaunchd, KindLaunchdSystem:
		return NewLaunchd(LaunchdOptions{
			System: kind == KindLaunchdSystem,
			UID:    opts.UID,
			Home:   opts.Home,
			Runner: opts.Runner,
		}), nil
	case KindNone:
		return None{}, nil
	}
	return nil, fmt.Errorf("unknown service manager kind %q (want systemd-system, systemd-user, launchd, launchd-system or none)", kind)
}

func detectKind(opts DetectOptions) Kind {
	switch opts.GOOS {
	case "linux":
		if !opts.Exists("/run/systemd/system") {
			return KindNone
		}
		if opts.EUID == 0 {
			return KindSystemdSystem
		}
		return KindSystemdUser
	case "darwin":
		if _, err := opts.LookPath("launchctl"); err != nil {
			return KindNone
		}
		if opts.EUID == 0 {
			return KindLaunchdSystem
		}
		return KindLaunchd
	}
	return KindNone
}

// InstalledKinds reports which scopes of the platform hold a unit file named
// name at its conventional path (systemd: system and user; launchd:
// LaunchDaemon and LaunchAgent), whatever the caller's own scope. A system
// unit installed with sudo is invisible to a user-scope Manager and the
// reverse, so the CLI uses this to say "a system unit is installed — use
// sudo" instead of "not installed". opts.Home should be the operator's home
// (under sudo, SUDO_USER's).
func InstalledKinds(opts DetectOptions, name string) []Kind {
	exists := opts.Exists
	if exists == nil {
		exists = func(p string) bool { _, err := os.Stat(p); return err == nil }
	}
	goos := opts.GOOS
	if goos == "" {
		goos = runtime.GOOS
	}
	var kinds []Kind
	switch goos {
	case "linux":
		kinds = []Kind{KindSystemdSystem, KindSystemdUser}
	case "darwin":
		kinds = []Kind{KindLaunchdSystem, KindLaunchd}
	}
	var found []Kind
	for _, k := range kinds {
		if exists(UnitPath(k, opts.Home, name)) {
			found = append(found, k)
		}
	}
	return found
}
