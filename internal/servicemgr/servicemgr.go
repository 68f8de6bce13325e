// Package servicemgr talks to the platform's service manager on behalf of the
// CLI: systemd over D-Bus (system bus as root, the user's own bus otherwise),
// launchd through launchctl, or no manager at all (containers and init-less
// hosts, where every verb says so and points at `parachute serve`).
//
// The package installs, removes, starts, stops and restarts one unit at a
// time and reads its state. It renders nothing: unit files and plists come
// from package unit, and the caller decides names and paths (UnitPath gives
// the conventional ones). It never prints; messages are returned to the
// caller.
package servicemgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Kind names a service manager and its scope.
type Kind string

// The kinds Detect can pick.
const (
	KindSystemdSystem Kind = "systemd-system" // system unit on the system bus (root)
	KindSystemdUser   Kind = "systemd-user"   // user unit on the user's bus (non-root)
	KindLaunchd       Kind = "launchd"        // LaunchAgent in gui/<uid>
	KindLaunchdSystem Kind = "launchd-system" // LaunchDaemon in the system domain (root)
	KindNone          Kind = "none"           // no manager: run `parachute serve` in the foreground
)

// ErrNoManager is returned by every operation of the "none" manager.
var ErrNoManager = errors.New("no service manager (systemd/launchd) found — run `parachute serve` in the foreground, or use a platform that provides one")

// ErrNotInstalled means the manager does not know the unit: no unit file was
// found where it looks. Callers typically suggest `parachute migrate`.
var ErrNotInstalled = errors.New("unit is not installed")

// Unit is a rendered unit file and where it goes.
type Unit struct {
	// Name is the manager's name for the unit: "parachute-hub.service" for
	// systemd, the label "computer.parachute.hub" for launchd.
	Name string
	// Path is where the file is written; it must be in the manager's search
	// path (UnitPath returns the conventional location).
	Path string
	// Content is the file's bytes.
	Content []byte
	// Dirs are created (0755, parents included) before the unit is loaded.
	// launchd does not create the parent of StandardOutPath, so a job whose
	// log directory is missing fails to start; pass that directory here.
	Dirs []string
}

// State is what the manager reports about one unit.
type State struct {
	Kind Kind
	// Installed reports whether the unit file exists at Path. It is read from
	// the file system, so it is right even when the manager cannot be reached.
	Installed bool
	Path      string
	// LoadState is systemd's LoadState ("loaded", "not-found", "error",
	// "bad-setting", "masked") or, for launchd, "loaded"/"not-loaded".
	LoadState string
	// ActiveState is systemd's ActiveState ("active", "activating",
	// "deactivating", "reloading", "inactive", "failed"); launchd's state is
	// mapped onto the same words.
	ActiveState string
	// SubState is systemd's SubState ("running", "dead", "auto-restart", ...)
	// or launchd's raw `state = ...` value.
	SubState string
	// UnitFileState is systemd's enablement ("enabled", "disabled", ...);
	// empty for launchd.
	UnitFileState string
	// MainPID is the main process, 0 when none runs.
	MainPID int
	// NRestarts counts automatic restarts (systemd NRestarts; launchd runs-1).
	NRestarts int
	// StartedAt is when the current (or last) main process started; zero when
	// unknown.
	StartedAt time.Time
	// LastExitCode is the last main process's exit status, nil when it has
	// not exited or was killed by a signal.
	LastExitCode *int
	// LastExitSignal is the signal that killed the last main process
	// (systemd ExecMainCode CLD_KILLED or CLD_DUMPED); 0 when it exited,
	// never ran, or the manager does not say.
	LastExitSignal int
	// Result is systemd's service Result ("success", "exit-code", "signal",
	// "timeout", "start-limit-hit", ...); empty for launchd.
	Result string
	// Detail carries anything else worth showing: a load error, or output
	// the package could not classify.
	Detail string
}

// Manager installs and drives one kind of service manager. Every method is
// safe to call when the unit is absent; Uninstall is idempotent.
type Manager interface {
	// Kind says which manager and scope this is.
	Kind() Kind
	// Install writes the unit file atomically, makes the manager load it and
	// enables it at boot/login; with start it also starts it. Messages are
	// for the operator (e.g. a lingering note); they are not errors.
	Install(ctx context.Context, u Unit, start bool) (messages []string, err error)
	// Uninstall stops and disables the unit, removes its file and makes the
	// manager forget it. removed reports whether a file was deleted.
	Uninstall(ctx context.Context, name, path string) (removed bool, err error)
	// Start starts the unit and waits for the manager's verdict. A refusal
	// is a *JobError.
	Start(ctx context.Context, name string) error
	// Stop stops the unit and waits for the manager's verdict. Stopping a
	// unit that is not running is not an error.
	Stop(ctx context.Context, name string) error
	// Restart restarts (or starts) the unit and waits for the verdict.
	Restart(ctx context.Context, name string) error
	// State reads the unit's state. When the manager cannot be reached the
	// returned State still carries Kind, Path and Installed.
	State(ctx context.Context, name, path string) (State, error)
	// JournalTail returns up to n recent log lines of the unit.
	JournalTail(ctx context.Context, name string, n int) ([]string, error)
}

// JobError reports a start, stop or restart the manager refused or that
// failed. Result is systemd's job result ("failed", "timeout", "dependency",
// "canceled") or "failed" for launchctl errors.
type JobError struct {
	Op     string // "start", "stop", "restart"
	Unit   string
	Result string
	// UnitResult is systemd's service Result after the job ("exit-code",
	// "timeout", "start-limit-hit", ...), when known.
	UnitResult string
	// Detail is the manager's own words (launchctl stderr, a D-Bus error).
	Detail string
	// JournalTail holds the unit's last log lines, for the operator.
	JournalTail []string
}

// Error implements error with one line; JournalTail is for the caller to show.
func (e *JobError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Op, e.Unit, describeResult(e.Result))
	if e.UnitResult != "" && e.UnitResult != "success" {
		fmt.Fprintf(&b, " (%s)", e.UnitResult)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	return b.String()
}

func describeResult(r string) string {
	switch r {
	case "failed":
		return "job failed"
	case "timeout":
		return "job timed out"
	case "dependency":
		return "a unit it depends on failed"
	case "canceled":
		return "job was canceled"
	case "":
		return "failed"
	}
	return "job result " + r
}

// Runner runs a program and returns its output and exit code. err is set only
// when the program could not be run or waited for (not found, context
// canceled); a non-zero exit is reported through code.
type Runner func(ctx context.Context, name string, args ...string) (stdout, stderr string, code int, err error)

// UnitPath returns the conventional location of a unit file for kind: the
// system or user systemd unit directory, or the LaunchDaemons/LaunchAgents
// folder (with ".plist" appended to the label). home is the user's home
// directory; it is unused for system kinds. KindNone has no path.
func UnitPath(kind Kind, home, name string) string {
	switch kind {
	case KindSystemdSystem:
		return filepath.Join("/etc/systemd/system", name)
	case KindSystemdUser:
		return filepath.Join(home, ".config", "systemd", "user", name)
	case KindLaunchd:
		return filepath.Join(home, "Library", "LaunchAgents", name+".plist")
	case KindLaunchdSystem:
		return filepath.Join("/Library/LaunchDaemons", name+".plist")
	}
	return ""
}

// writeFileAtomic writes data to path through a temp file in the same
// directory, fsyncs it and renames it over path, so a manager never reads a
// half-written unit. The directory is created (0755) when missing.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("creating temp file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	// CreateTemp makes 0600 files; units must be world-readable (and a
	// launchd plist must not be group/world-writable or launchd ignores it).
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("setting mode of %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("renaming into %s: %w", path, err)
	}
	return nil
}

// makeDirs creates each directory with its parents.
func makeDirs(dirs []string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	return nil
}

// fileExists reports whether path names an existing file (any error but
// "not exist" counts as existing, so a permission problem is not read as
// "not installed").
func fileExists(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

// lastLines splits s into lines, drops blank trailing ones, and keeps the
// last n (all when n <= 0).
func lastLines(s string, n int) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
