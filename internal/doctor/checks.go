package doctor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/servicemgr"
	"github.com/openparachute/parachute/internal/unit"
)

// journalLines is how much of the hub unit's log a failure finding shows.
const journalLines = 15

// checkHubUnit: is the hub unit installed, running, crash-looping or
// failed, and if it failed, its last log lines.
func checkHubUnit(ctx context.Context, d *Doctor, r *run) {
	p := d.Probes
	if p.Kind == servicemgr.KindNone || p.UnitState == nil {
		r.add(Finding{Check: "hub-unit", Severity: Info,
			Seen: "no service manager (systemd/launchd) here: nothing restarts the hub or starts it at boot",
			Fix:  "parachute serve   # in the foreground, or under your platform's process manager"})
		return
	}
	st, err := p.UnitState(ctx)
	r.unit, r.unitErr = st, err
	if err != nil {
		r.add(Finding{Check: "hub-unit", Severity: Warn,
			Seen: fmt.Sprintf("could not ask %s about %s: %v", p.Kind, p.UnitName, err),
			Fix:  "systemctl" + scopeFlag(p.Kind) + " status " + p.UnitName})
		return
	}
	installed := st.Installed || (st.LoadState == "loaded" && st.UnitFileState != "")
	r.unitInstalled = installed
	switch {
	case !installed:
		r.add(Finding{Check: "hub-unit", Severity: Warn,
			Seen: "no hub unit is installed: the hub does not start at boot or restart after a crash",
			Fix:  "parachute init"})
	case st.ActiveState == "failed":
		fix := "parachute logs hub   # read why, fix it, then:\nparachute start"
		if st.LastExitCode != nil && *st.LastExitCode == unit.ExitConfig {
			fix = "parachute logs hub   # it names the setting to fix (PORT, the bind address); starting it again before that fails the same way\nparachute start"
		}
		r.add(Finding{Check: "hub-unit", Severity: Error,
			Seen:   fmt.Sprintf("the hub unit %s has failed (%s)", p.UnitName, failure(st)),
			Detail: journal(ctx, p), Fix: fix})
	case st.SubState == "auto-restart" || (st.ActiveState == "activating" && st.NRestarts > 0):
		r.add(Finding{Check: "hub-unit", Severity: Error,
			Seen:   fmt.Sprintf("the hub unit %s is crash-looping (%d restarts, %s)", p.UnitName, st.NRestarts, failure(st)),
			Detail: journal(ctx, p),
			Fix:    "parachute logs hub   # read why, fix it, then:\nparachute restart"})
	case st.ActiveState == "active" || st.ActiveState == "activating" || st.ActiveState == "reloading":
		f := Finding{Check: "hub-unit", Severity: OK,
			Seen: fmt.Sprintf("the hub unit %s is %s (pid %d)", p.UnitName, st.ActiveState, st.MainPID)}
		if st.NRestarts > 0 {
			f.Severity, f.Seen = Warn, f.Seen+fmt.Sprintf(", but systemd restarted it %d times", st.NRestarts)
			f.Detail, f.Fix = journal(ctx, p), "parachute logs hub"
		}
		r.add(f)
	default:
		r.add(Finding{Check: "hub-unit", Severity: Warn,
			Seen: fmt.Sprintf("the hub unit %s is installed but %s", p.UnitName, orWord(st.ActiveState, "not running")),
			Fix:  "parachute start"})
	}
}

// failure describes how a unit's last run ended.
func failure(st servicemgr.State) string {
	var parts []string
	if st.Result != "" && st.Result != "success" {
		parts = append(parts, "result "+st.Result)
	}
	switch {
	case st.LastExitCode != nil:
		parts = append(parts, exitMeaning(*st.LastExitCode))
	case st.LastExitSignal != 0:
		parts = append(parts, fmt.Sprintf("killed by signal %d (%v)", st.LastExitSignal, syscall.Signal(st.LastExitSignal)))
	}
	if st.Detail != "" {
		parts = append(parts, st.Detail)
	}
	return orWord(strings.Join(parts, ", "), "no exit status recorded")
}

// exitMeaning says what the hub's last exit status means: its own codes
// (package unit), and systemd's for a hub it could not even start
// (systemd.exec(5), "Process Exit Codes").
func exitMeaning(code int) string {
	what := map[int]string{
		unit.ExitFailure: "a runtime failure, such as its port in use, that its log names",
		unit.ExitConfig:  "EX_CONFIG: the hub's configuration is invalid, and restarting cannot fix it, so systemd does not",
		200:              "systemd could not enter its WorkingDirectory",
		203:              "systemd could not execute the hub binary: moved, deleted or not executable",
		217:              "systemd could not switch to its User=",
	}[code]
	if what == "" {
		return "exited " + strconv.Itoa(code)
	}
	return fmt.Sprintf("exited %d (%s)", code, what)
}

// journal is the unit's log tail, or a line saying it could not be read.
func journal(ctx context.Context, p Probes) []string {
	if p.Journal == nil {
		return nil
	}
	lines, err := p.Journal(ctx, journalLines)
	if err != nil {
		return []string{"(could not read the unit's log: " + err.Error() + ")"}
	}
	return lines
}

func orWord(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkHub: does the hub answer /health on its port?
func checkHub(ctx context.Context, d *Doctor, r *run) {
	p := d.Probes
	if p.Health == nil {
		return
	}
	err := p.Health(ctx)
	r.hubUp = err == nil
	if err == nil {
		r.add(Finding{Check: "hub", Severity: OK, Seen: fmt.Sprintf("the hub answers on 127.0.0.1:%d", p.HubPort)})
		return
	}
	fix := "parachute start"
	if p.Kind == servicemgr.KindNone {
		fix = "parachute serve"
	}
	r.add(Finding{Check: "hub", Severity: Error,
		Seen: fmt.Sprintf("the hub does not answer on 127.0.0.1:%d (%v)", p.HubPort, err), Fix: fix})
}

// checkLinger: a user unit without lingering stops at logout and does not
// start at boot.
func checkLinger(ctx context.Context, d *Doctor, r *run) {
	p := d.Probes
	if p.Kind != servicemgr.KindSystemdUser || p.Linger == nil || p.User == "" {
		return
	}
	on, err := p.Linger(ctx, p.User)
	switch {
	case err != nil:
		r.add(Finding{Check: "linger", Severity: Warn,
			Seen: fmt.Sprintf("could not read lingering for %s: %v", p.User, err),
			Fix:  "loginctl show-user " + p.User + " -p Linger"})
	case !on:
		r.add(Finding{Check: "linger", Severity: Warn,
			Seen: fmt.Sprintf("lingering is off for %s: the user hub unit stops when you log out and does not start at boot", p.User),
			Fix:  "sudo loginctl enable-linger " + p.User})
	default:
		r.add(Finding{Check: "linger", Severity: OK, Seen: "lingering is on for " + p.User})
	}
}

// checkPorts: the hub's port held by something that is not the hub, and
// module ports held by processes the hub did not start, each holder named.
func checkPorts(ctx context.Context, d *Doctor, r *run) {
	p := d.Probes
	if p.HolderOf == nil || p.Listening == nil {
		return
	}
	hubPID := 0
	if h, ok := p.HolderOf(p.HubPort); ok && r.hubUp {
		hubPID = h.PID
	}
	if !r.hubUp && p.Listening(p.HubPort) {
		r.add(portFinding(p, p.HubPort, "the hub", Error))
	}
	f, _ := manifest.LoadLenient(d.Paths.ServicesJSON())
	rows, _ := manifest.Routable(f.Services)
	seen := map[int]bool{p.HubPort: true}
	clean := true
	for _, row := range rows {
		if seen[row.Port] {
			continue
		}
		seen[row.Port] = true
		h, ok := p.HolderOf(row.Port)
		if !ok {
			if p.Listening(row.Port) && !r.hubUp {
				clean = false
				r.add(portFinding(p, row.Port, manifest.ShortName(row.Name), Warn))
			}
			continue
		}
		if hubPID != 0 && descends(p, h.PID, hubPID) {
			continue // the module the hub started
		}
		clean = false
		r.add(portFinding(p, row.Port, manifest.ShortName(row.Name), Error))
	}
	if clean && (r.hubUp || !p.Listening(p.HubPort)) {
		r.add(Finding{Check: "ports", Severity: OK, Seen: "no port conflicts on the hub's or the modules' ports"})
	}
}

// portFinding names who holds port, meant for owner.
func portFinding(p Probes, port int, owner string, sev Severity) Finding {
	h, ok := p.HolderOf(port)
	if !ok {
		return Finding{Check: "ports", Severity: sev,
			Seen: fmt.Sprintf("port %d (%s) is held by a process this account cannot identify", port, owner),
			Fix:  fmt.Sprintf("sudo ss -ltnp 'sport = :%d'   # name it, stop it, then: parachute restart", port)}
	}
	seen := fmt.Sprintf("port %d (%s) is held by %s, which the hub did not start", port, owner, h)
	if h.Cmd != "" {
		seen += ": " + h.Cmd
	}
	return Finding{Check: "ports", Severity: sev, Seen: seen,
		Fix: fmt.Sprintf("kill %d   # or stop whatever runs it, then: parachute restart", h.PID)}
}

// descends reports whether pid is ancestor or one of its descendants.
func descends(p Probes, pid, ancestor int) bool {
	for i := 0; pid > 1 && i < 64; i++ {
		if pid == ancestor {
			return true
		}
		if p.ParentOf == nil {
			return false
		}
		pid = p.ParentOf(pid)
	}
	return false
}
