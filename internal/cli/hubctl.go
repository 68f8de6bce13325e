package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/hubsvc"
	"github.com/openparachute/parachute/internal/servicemgr"
	"github.com/openparachute/parachute/internal/unit"
)

// newController wires the hub-unit controller for this host.
func newController(e *env, paths config.Paths) (*hubsvc.Controller, error) {
	mgr, err := servicemgr.Detect(servicemgr.HostDetectOptions())
	if err != nil {
		return nil, err
	}
	return &hubsvc.Controller{
		Paths: paths,
		Mgr:   mgr,
		// A fresh client each time: a starting hub rewrites its port file.
		Health: func(ctx context.Context) error {
			_, err := hubclient.New(paths).Health(ctx)
			return err
		},
		Logf: func(format string, args ...any) { e.printf(format+"\n", args...) },
	}, nil
}

// otherScopeUnit reports a hub unit installed in the other scope (a system
// unit seen by a non-root CLI, or the reverse), so messages can say "use
// sudo" instead of "not installed" (reference runtime.md §8.20). For a
// non-root CLI under systemd it asks the system manager itself, so a
// package's system unit (in /usr/lib/systemd/system) counts too.
func otherScopeUnit(ctl *hubsvc.Controller) servicemgr.Kind {
	if ctl.Mgr.Kind() == servicemgr.KindSystemdUser && systemHubEnabled(ctl.UnitName()) {
		return servicemgr.KindSystemdSystem
	}
	for _, k := range servicemgr.InstalledKinds(servicemgr.HostDetectOptions(), ctl.UnitName()) {
		if k != ctl.Mgr.Kind() {
			return k
		}
	}
	return ""
}

// systemHubEnabled asks the system manager (its bus is readable without
// privileges) whether the system-wide hub unit is enabled or running.
func systemHubEnabled(name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	sys := servicemgr.NewSystemd(servicemgr.SystemdOptions{})
	st, err := sys.State(ctx, name, "")
	if err != nil || st.LoadState != "loaded" {
		return false
	}
	switch {
	case st.UnitFileState == "enabled", st.ActiveState == "active", st.ActiveState == "activating":
		return true
	}
	return false
}

// hubDownError explains why the hub could not be brought up.
func hubDownError(ctl *hubsvc.Controller, paths config.Paths, err error) error {
	base, from := hubclient.Locate(paths)
	switch {
	case errors.Is(err, servicemgr.ErrNoManager):
		return fail(ExitFail, "✗ the hub is not running at %s (from %s), and this host has no service manager (systemd/launchd).\n"+
			"  Run `parachute serve` in the foreground (in a container, the image's entrypoint runs it).", base, from)
	case errors.Is(err, hubsvc.ErrNoUnit):
		if k := otherScopeUnit(ctl); k == servicemgr.KindSystemdSystem || k == servicemgr.KindLaunchdSystem {
			return fail(ExitFail, "✗ the hub is not running at %s. It is installed as a system service: start it with `sudo parachute start` (or `sudo systemctl start %s`).", base, unit.SystemdName)
		}
		return fail(ExitFail, "✗ the hub is not running at %s (from %s), and no hub unit is installed.\n"+
			"  Run `parachute init` to install and start it as a service, or `parachute serve` in the foreground.", base, from)
	}
	return fail(ExitFail, "✗ the hub did not come up: %v%s\n  See `parachute logs hub` and `parachute status`.", err, journalOf(err))
}

// journalOf formats the journal lines carried by err, if any.
func journalOf(err error) string {
	var lines []string
	var je *hubsvc.JournalError
	var jobErr *servicemgr.JobError
	switch {
	case errors.As(err, &je):
		lines = je.Lines
	case errors.As(err, &jobErr):
		lines = jobErr.JournalTail
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n  Recent hub unit log:\n    " + strings.Join(lines, "\n    ")
}

// ensureHub makes sure the hub answers /health before a module verb,
// starting its unit through the service manager when one is installed.
func ensureHub(e *env, c *cli.Context, paths config.Paths) error {
	ctl, err := newController(e, paths)
	if err != nil {
		return fail(ExitFail, "✗ %v", err)
	}
	if err := legacyGate(e, paths, ctl); err != nil {
		return err
	}
	if _, err := ctl.Ensure(c.Context); err != nil {
		return hubDownError(ctl, paths, err)
	}
	return nil
}

// hubVerb starts, stops or restarts the hub itself through the service
// manager. It never signals a pid: the manager would just restart it.
func hubVerb(e *env, c *cli.Context, paths config.Paths, op string) error {
	ctx := c.Context
	ctl, err := newController(e, paths)
	if err != nil {
		return fail(ExitFail, "✗ %v", err)
	}
	up := ctl.Health(ctx) == nil
	if ctl.Mgr.Kind() == servicemgr.KindNone {
		if up && op == "start" {
			e.printf("✓ hub is up (no service manager: it runs in the foreground or in a container).\n")
			return nil
		}
		return fail(ExitFail, "✗ parachute %s hub: %v", op, servicemgr.ErrNoManager)
	}
	st, _ := ctl.State(ctx)
	installed := hubsvc.Usable(st)
	if !installed {
		if up {
			h, _ := hubclient.New(paths).Health(ctx)
			pid := 0
			if h != nil {
				pid = h.PID
			}
			if op == "start" {
				e.printf("✓ hub is up (running in the foreground, pid %d — not managed by %s).\n", pid, ctl.Mgr.Kind())
				return nil
			}
			return fail(ExitFail, "✗ the hub runs in the foreground (pid %d), not under the service manager.\n"+
				"  Stop it where it runs (Ctrl-C), or run `parachute migrate --to-supervised` to hand it to %s.", pid, ctl.Mgr.Kind())
		}
		if err := legacyGate(e, paths, ctl); err != nil {
			return err
		}
		return hubDownError(ctl, paths, hubsvc.ErrNoUnit)
	}
	switch op {
	case "start":
		started, err := ctl.Ensure(ctx)
		if err != nil {
			return hubDownError(ctl, paths, err)
		}
		if started {
			e.printf("✓ hub is up (all installed modules booted).\n")
		} else {
			e.printf("✓ hub is already running.\n")
		}
	case "stop":
		if err := ctl.Mgr.Stop(ctx, ctl.UnitName()); err != nil {
			return fail(ExitFail, "✗ failed to stop the hub unit: %v%s", err, journalOf(err))
		}
		e.printf("✓ hub stopped (all supervised modules stopped with it).\n")
	case "restart":
		if err := ctl.Mgr.Restart(ctx, ctl.UnitName()); err != nil {
			return fail(ExitFail, "✗ failed to restart the hub unit: %v%s", err, journalOf(err))
		}
		if err := ctl.WaitHealthy(ctx); err != nil {
			return hubDownError(ctl, paths, err)
		}
		e.printf("✓ hub restarted (all modules re-booted).\n")
	}
	return nil
}

// legacyGate stops a lifecycle verb on a box still running the legacy
// detached model (pidfiles, no unit) and offers the cutover.
func legacyGate(e *env, paths config.Paths, ctl *hubsvc.Controller) error {
	evidence := legacyEvidence(paths)
	if evidence == "" {
		return nil
	}
	return fail(ExitFail, "This box is running the legacy detached model (%s): independent daemons, no\n"+
		"process manager. The current Parachute hub runs supervised — `parachute serve` under\n"+
		"%s, with reboot survival and module management. To migrate, run:\n\n  parachute migrate --to-supervised\n", evidence, ctl.Mgr.Kind())
}

// legacyEvidence names a live legacy pidfile, or "".
func legacyEvidence(paths config.Paths) string {
	b, err := os.ReadFile(paths.HubPIDFile())
	if err != nil {
		return ""
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return ""
	}
	if err := syscallKill0(pid); err != nil {
		return ""
	}
	return fmt.Sprintf("hub pid %d from %s", pid, paths.HubPIDFile())
}

// journalLogs shows the hub unit's journal (system unit as root, else the
// user unit) through the service manager, so a unit that failed shows its
// process's own last lines too: journald often files the output of a
// process that exits at once under no unit, and `journalctl --user-unit`
// alone never shows it (servicemgr.Systemd.JournalTail).
func journalLogs(e *env, c *cli.Context, n int, follow bool) error {
	mgr, err := servicemgr.Detect(servicemgr.HostDetectOptions())
	if err != nil || (mgr.Kind() != servicemgr.KindSystemdSystem && mgr.Kind() != servicemgr.KindSystemdUser) {
		return fail(ExitFail, "parachute logs hub: no hub log file and no systemd journal here.\n  When the hub runs in the foreground (`parachute serve`), its output is on that terminal.")
	}
	if follow {
		f, ok := mgr.(servicemgr.JournalFollower)
		if !ok {
			return fail(ExitFail, "parachute logs hub -f: %s cannot follow the hub's log; run `parachute logs hub` without -f", mgr.Kind())
		}
		if err := f.FollowJournal(c.Context, unit.SystemdName, n, e.stdout); err != nil && c.Context.Err() == nil {
			return fail(ExitFail, "parachute logs hub: %v", err)
		}
		return nil
	}
	if n == 0 {
		return nil // JournalTail reads 0 as its default
	}
	lines, err := mgr.JournalTail(c.Context, unit.SystemdName, n)
	if err != nil {
		return fail(ExitFail, "parachute logs hub: %v", err)
	}
	for _, l := range lines {
		fmt.Fprintln(e.stdout, l)
	}
	return nil
}
