// Package selfupdate upgrades the hub binary itself. It tells how the
// binary was installed (a deb or rpm package, Homebrew, Nix, a container
// image, or a standalone file), refuses to touch anything a package
// manager owns (it names the command to run instead), and replaces a
// standalone binary atomically: the new file is copied beside the old one
// and smoke-tested (`version --json`), the old one is kept as <path>.old,
// the hub is restarted through its service manager, and the old binary is
// put back and restarted when the new hub is not healthy in time.
//
// The package also keeps the upgrade status file the admin UI polls
// (<root>/hub-upgrade-status.json). It never prints; progress goes to a
// logf callback.
package selfupdate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/semver"
)

// DefaultHealthTimeout is how long a restarted hub has to answer /health
// with the new version before it is rolled back.
const DefaultHealthTimeout = 60 * time.Second

// Errors callers branch on.
var (
	// ErrNoReleaseSource means no new binary was given and no release
	// server is configured.
	ErrNoReleaseSource = errors.New("no release source is configured for the hub: pass --from <path to the new parachute binary>")
	// ErrRedeployRequired means the hub runs from a container image, which
	// is replaced by redeploying, never in place.
	ErrRedeployRequired = errors.New("redeploy-required: this hub runs from a container image; deploy the new image from your platform instead")
	// ErrDowngrade means the new binary is older and downgrades were not allowed.
	ErrDowngrade = errors.New("downgrade refused")
)

// PackagedError says a package manager owns the binary.
type PackagedError struct{ Source Source }

func (e *PackagedError) Error() string {
	what := string(e.Source.Kind)
	if e.Source.Package != "" {
		what += " package " + e.Source.Package
	}
	return fmt.Sprintf("%s is installed by %s; parachute does not rewrite packaged files — upgrade it with:\n  %s",
		e.Source.Path, what, e.Source.Command)
}

// RollbackError says the new hub was not healthy and the old binary was
// put back.
type RollbackError struct {
	// Failed is the version that did not come up; Restored the one put back.
	Failed, Restored string
	Cause            error
	// RestoreErr is set when bringing the old hub back failed too.
	RestoreErr error
}

func (e *RollbackError) Error() string {
	msg := fmt.Sprintf("the new hub (%s) was not healthy: %v; rolled back to %s", e.Failed, e.Cause, e.Restored)
	if e.RestoreErr != nil {
		msg += fmt.Sprintf(", but bringing it back failed too: %v", e.RestoreErr)
	}
	return msg
}

// Unwrap returns the cause.
func (e *RollbackError) Unwrap() error { return e.Cause }

// Options configures Upgrade.
type Options struct {
	// Source is Detect's answer for the running binary.
	Source Source
	// From is the new binary (a local file).
	From string
	// CurrentVersion is the installed version; "" asks the installed file.
	CurrentVersion string
	AllowDowngrade bool
	// DryRun stages and smoke-tests the new binary, then discards it.
	DryRun bool
	// Restart restarts the hub through its service manager and returns
	// the manager's verdict; nil when no manager runs the hub.
	Restart func(ctx context.Context) error
	// WaitHealthy returns nil once the hub answers /health reporting
	// version, or an error when ctx ends first. Nil skips the check.
	WaitHealthy func(ctx context.Context, version string) error
	// HealthTimeout bounds WaitHealthy; 0 means DefaultHealthTimeout.
	HealthTimeout time.Duration
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Outcome says what Upgrade did.
type Outcome struct {
	// From and To are the versions before and after.
	From, To string
	// Backup is the previous binary kept beside the new one.
	Backup string
	// Restarted reports that the manager restarted the hub on To.
	Restarted bool
	// Unchanged reports that the new binary has the installed version.
	Unchanged bool
	DryRun    bool
}

// Upgrade replaces the standalone hub binary with o.From and restarts the
// hub, rolling back when the new one is not healthy within the deadline.
func Upgrade(ctx context.Context, o Options) (*Outcome, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	switch {
	case o.Source.Packaged():
		return nil, &PackagedError{Source: o.Source}
	case o.Source.Kind == KindContainer:
		return nil, ErrRedeployRequired
	case o.From == "":
		return nil, ErrNoReleaseSource
	}
	target := o.Source.Path
	staged, err := Stage(ctx, target, o.From)
	if err != nil {
		return nil, err
	}
	logf("new binary %s reports version %s (smoke test passed)", o.From, staged.Version)
	current := o.CurrentVersion
	if current == "" {
		if current, err = VersionOf(ctx, target); err != nil {
			logf("could not ask the installed binary its version: %v", err)
		}
	}
	out := &Outcome{From: current, To: staged.Version}
	if c, ok := compare(staged.Version, current); ok && c == 0 {
		staged.Abort()
		out.Unchanged = true
		return out, nil
	} else if ok && c < 0 && !o.AllowDowngrade {
		staged.Abort()
		return nil, fmt.Errorf("%w: %s is older than the installed %s (pass --allow-downgrade to do it anyway)", ErrDowngrade, staged.Version, current)
	}
	if o.DryRun {
		staged.Abort()
		out.DryRun = true
		return out, nil
	}
	if out.Backup, err = staged.Swap(); err != nil {
		staged.Abort()
		return nil, err
	}
	logf("replaced %s (the previous binary is kept as %s)", target, out.Backup)
	if o.Restart == nil {
		return out, nil
	}
	if err := restartHealthy(ctx, o, staged.Version, logf); err != nil {
		logf("the new hub is not healthy: %v — putting %s back", err, orUnknown(current))
		rb := &RollbackError{Failed: staged.Version, Restored: current, Cause: err}
		if rerr := Restore(target, out.Backup); rerr != nil {
			rb.RestoreErr = rerr
			return nil, rb
		}
		rb.RestoreErr = restartHealthy(ctx, o, current, logf)
		return nil, rb
	}
	out.Restarted = true
	return out, nil
}

// restartHealthy restarts the hub and waits for it to report version.
func restartHealthy(ctx context.Context, o Options, version string, logf func(string, ...any)) error {
	logf("restarting the hub through its service manager")
	if err := o.Restart(ctx); err != nil {
		return fmt.Errorf("restarting the hub: %w", err)
	}
	if o.WaitHealthy == nil {
		return nil
	}
	timeout := o.HealthTimeout
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := o.WaitHealthy(hctx, version); err != nil {
		return fmt.Errorf("no healthy answer from hub %s within %s: %w", orUnknown(version), timeout, err)
	}
	logf("the hub answers /health as %s", orUnknown(version))
	return nil
}

// compare compares two versions by semver precedence; ok is false when
// either does not parse.
func compare(a, b string) (int, bool) {
	va, err1 := semver.NewVersion(strings.TrimSpace(a))
	vb, err2 := semver.NewVersion(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return va.Compare(vb), true
}

func orUnknown(v string) string {
	if v == "" {
		return "(unknown version)"
	}
	return v
}
