// Package hubsvc runs the hub as a platform service: it renders the hub's
// unit for this host (package unit), hands it to the service manager
// (package servicemgr) and proves the result by waiting for /health. The
// CLI's init, migrate and hub start/stop/restart verbs are thin wrappers
// around a Controller.
package hubsvc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/servicemgr"
	"github.com/openparachute/parachute/internal/unit"
)

// ReadyTimeout is how long a started hub has to answer /health.
const ReadyTimeout = 15 * time.Second

// ErrNoUnit means no hub unit is installed for this user (and none the
// manager knows from a package).
var ErrNoUnit = errors.New("no hub unit installed — run `parachute init` to install and start it")

// ErrNotHealthy means the unit runs but /health did not answer in time.
var ErrNotHealthy = errors.New("the hub unit started but did not answer /health")

// Controller drives the hub unit of one host.
type Controller struct {
	Paths config.Paths
	Mgr   servicemgr.Manager
	// Health probes the hub; nil error means /health answered.
	Health func(ctx context.Context) error
	// Render builds the hub unit for this host; nil means DefaultRender.
	Render func() (servicemgr.Unit, error)
	// Logf reports progress; nil discards it.
	Logf func(format string, args ...any)
	// Now and Sleep are the clock used while waiting for /health.
	Now   func() time.Time
	Sleep func(time.Duration)
	// ReadyTimeout overrides the package default.
	ReadyTimeout time.Duration
	// Home is the user's home directory; "" asks the OS.
	Home string
	// Exists reports whether a path exists; nil asks the file system.
	Exists func(path string) bool
}

// BrewLabel is the launchd label `brew services` gives the formula's
// service; its plist runs the same `parachute serve`.
const BrewLabel = "homebrew.mxcl.parachute"

func (c *Controller) home() string {
	if c.Home != "" {
		return c.Home
	}
	h, _ := os.UserHomeDir()
	return h
}

func (c *Controller) exists(p string) bool {
	if c.Exists != nil {
		return c.Exists(p)
	}
	_, err := os.Stat(p)
	return err == nil
}

// brewService returns the path of the `brew services` plist for parachute
// when Homebrew runs the hub on this (launchd) host.
func (c *Controller) brewService() string {
	switch c.Mgr.Kind() {
	case servicemgr.KindLaunchd, servicemgr.KindLaunchdSystem:
	default:
		return ""
	}
	for _, k := range []servicemgr.Kind{c.Mgr.Kind(), servicemgr.KindLaunchd, servicemgr.KindLaunchdSystem} {
		if p := servicemgr.UnitPath(k, c.home(), BrewLabel); c.exists(p) {
			return p
		}
	}
	return ""
}

func (c *Controller) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// UnitName is the manager's name for the hub unit: brew's label when
// Homebrew runs the hub, else ours.
func (c *Controller) UnitName() string {
	switch c.Mgr.Kind() {
	case servicemgr.KindLaunchd, servicemgr.KindLaunchdSystem:
		if c.brewService() != "" {
			return BrewLabel
		}
		return unit.LaunchdLabel
	}
	return unit.SystemdName
}

// UnitPath is where the hub unit lives (ours, or brew's plist).
func (c *Controller) UnitPath() string {
	if p := c.brewService(); p != "" {
		return p
	}
	return servicemgr.UnitPath(c.Mgr.Kind(), c.home(), c.UnitName())
}

// Label names the manager for humans: "managed unit (systemd)" etc.
func (c *Controller) Label(st servicemgr.State) string {
	switch c.Mgr.Kind() {
	case servicemgr.KindNone:
		return "foreground"
	case servicemgr.KindLaunchd, servicemgr.KindLaunchdSystem:
		if c.brewService() != "" {
			return "managed unit (launchd, brew services)"
		}
		return "managed unit (launchd)"
	}
	if o := Owner(st.Path); o != "" {
		return "managed unit (systemd, " + o + ")"
	}
	return "managed unit (systemd)"
}

// Owner says which package manager owns a unit file, from its path: the
// deb/rpm unit lives under /usr/lib/systemd or /lib/systemd, a NixOS unit
// links into /nix/store. "" means the CLI installed it.
func Owner(path string) string {
	if path == "" {
		return ""
	}
	resolved := path
	if r, err := filepath.EvalSymlinks(path); err == nil {
		resolved = r
	} else if r, err := os.Readlink(path); err == nil {
		resolved = r // a link whose target this user cannot follow still names it
	}
	switch {
	case strings.HasPrefix(resolved, "/nix/store/"):
		return "nix"
	case strings.HasPrefix(resolved, "/usr/lib/systemd/") || strings.HasPrefix(resolved, "/lib/systemd/"):
		return "package"
	}
	return ""
}

// DefaultRender renders the hub unit for the current user and config root.
func (c *Controller) DefaultRender() (servicemgr.Unit, error) {
	opts, err := unit.DetectHubOptions("", c.Paths.Root)
	if err != nil {
		return servicemgr.Unit{}, err
	}
	svc, err := unit.HubService(opts)
	if err != nil {
		return servicemgr.Unit{}, err
	}
	u := servicemgr.Unit{Name: c.UnitName(), Path: c.UnitPath()}
	switch c.Mgr.Kind() {
	case servicemgr.KindLaunchd, servicemgr.KindLaunchdSystem:
		u.Content, err = unit.RenderLaunchd(svc)
		u.Dirs = []string{c.Paths.HubLogDir()}
	default:
		u.Content, err = unit.RenderSystemd(svc)
	}
	return u, err
}

func (c *Controller) render() (servicemgr.Unit, error) {
	if c.Render != nil {
		return c.Render()
	}
	return c.DefaultRender()
}

// Usable reports whether st describes a hub unit this controller may start:
// the unit file at our path, or a unit the manager loaded from elsewhere
// (a package, Nix) that is enabled or running. A package's shipped but
// disabled unit (the deb's user unit) is an offer, not an installed hub.
func Usable(st servicemgr.State) bool {
	if st.Installed {
		return true
	}
	return st.LoadState == "loaded" &&
		(st.UnitFileState == "enabled" || st.ActiveState == "active" || st.ActiveState == "activating")
}

// State reads the unit's state from the manager.
func (c *Controller) State(ctx context.Context) (servicemgr.State, error) {
	return c.Mgr.State(ctx, c.UnitName(), c.UnitPath())
}

// WaitHealthy polls /health until it answers or the ready timeout passes.
func (c *Controller) WaitHealthy(ctx context.Context) error {
	timeout := c.ReadyTimeout
	if timeout == 0 {
		timeout = ReadyTimeout
	}
	now, sleep := c.Now, c.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = time.Sleep
	}
	deadline := now().Add(timeout)
	var last error
	for {
		if last = c.Health(ctx); last == nil {
			return nil
		}
		if now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%w within %s (%v)", ErrNotHealthy, timeout, last)
		}
		sleep(250 * time.Millisecond)
	}
}

// Ensure makes sure the hub answers: already up, or started through the
// manager. It never installs a unit and never spawns a hub itself.
func (c *Controller) Ensure(ctx context.Context) (started bool, err error) {
	if c.Health(ctx) == nil {
		return false, nil
	}
	if c.Mgr.Kind() == servicemgr.KindNone {
		return false, servicemgr.ErrNoManager
	}
	st, err := c.State(ctx)
	if err == nil && !Usable(st) {
		return false, ErrNoUnit
	}
	c.logf("Hub not responding — starting %s via the service manager…", c.UnitName())
	if err := c.Mgr.Start(ctx, c.UnitName()); err != nil {
		return false, err
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return true, c.withJournal(ctx, err)
	}
	return true, nil
}

// withJournal attaches the unit's recent log to err.
func (c *Controller) withJournal(ctx context.Context, err error) error {
	lines, jerr := c.Mgr.JournalTail(ctx, c.UnitName(), 30)
	if jerr != nil || len(lines) == 0 {
		return err
	}
	return &JournalError{Err: err, Lines: lines}
}

// JournalError is an error with the unit's recent log lines.
type JournalError struct {
	Err   error
	Lines []string
}

func (e *JournalError) Error() string { return e.Err.Error() }
func (e *JournalError) Unwrap() error { return e.Err }

// InstallResult says what Install did.
type InstallResult struct {
	// Adopted is set when a package manager (or another scope) already runs
	// the hub; nothing was written.
	Adopted string
	// Written reports whether the unit file was (re)written.
	Written bool
	// Started reports whether the hub was started or restarted.
	Started  bool
	Messages []string
}

// Install makes the hub a running managed unit. It is idempotent: when the
// installed unit is identical and the hub answers, it changes nothing. A
// hub unit owned by a package manager is adopted, never overwritten.
func (c *Controller) Install(ctx context.Context) (InstallResult, error) {
	var res InstallResult
	if c.Mgr.Kind() == servicemgr.KindNone {
		return res, servicemgr.ErrNoManager
	}
	st, _ := c.State(ctx)
	// A package's unit is adopted when the package runs the hub: loaded and
	// enabled (or running). A shipped-but-disabled unit (the deb's user
	// unit) is not a running hub: ours, written where it takes precedence,
	// is installed instead.
	owner := Owner(st.Path)
	if owner != "" && !Usable(st) {
		owner = ""
	}
	if p := c.brewService(); p != "" {
		owner, st.Path = "brew services", p
	}
	if owner != "" {
		res.Adopted = owner + " (" + st.Path + ")"
		if c.Health(ctx) != nil {
			if err := c.Mgr.Start(ctx, c.UnitName()); err != nil {
				return res, c.withJournal(ctx, err)
			}
			res.Started = true
			if err := c.WaitHealthy(ctx); err != nil {
				return res, c.withJournal(ctx, err)
			}
		}
		return res, nil
	}
	u, err := c.render()
	if err != nil {
		return res, fmt.Errorf("rendering the hub unit: %w", err)
	}
	current, _ := os.ReadFile(u.Path)
	healthy := c.Health(ctx) == nil
	if string(current) == string(u.Content) && st.ActiveState == "active" && healthy {
		return res, nil // nothing to do
	}
	if err := c.Paths.EnsureRoot(); err != nil {
		return res, err
	}
	msgs, err := c.Mgr.Install(ctx, u, false)
	res.Messages = append(res.Messages, msgs...)
	if err != nil {
		return res, fmt.Errorf("installing %s: %w", u.Path, err)
	}
	res.Written = string(current) != string(u.Content)
	// A changed unit (or a stopped one) needs a (re)start to take effect.
	if res.Written || st.ActiveState != "active" || !healthy {
		op := c.Mgr.Start
		if st.ActiveState == "active" {
			op = c.Mgr.Restart
		}
		if err := op(ctx, u.Name); err != nil {
			return res, c.withJournal(ctx, err)
		}
		res.Started = true
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return res, c.withJournal(ctx, err)
	}
	return res, nil
}

// Teardown disables, stops and removes the hub unit this CLI installed.
func (c *Controller) Teardown(ctx context.Context) (bool, error) {
	if c.Mgr.Kind() == servicemgr.KindNone {
		return false, nil
	}
	return c.Mgr.Uninstall(ctx, c.UnitName(), c.UnitPath())
}
