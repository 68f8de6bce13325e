// Package prior stops the Cloudflare connectors a previous hub — the
// TypeScript hub this one replaces — started for a tunnel this hub is
// about to run, so a box moved between them ends up with exactly one
// connector per tunnel.
//
// The reference records each connector's pid in cloudflared-state.json
// (reference lifecycle.md §6.8). Its transient connectors were detached
// `cloudflared tunnel --config <root>/cloudflared/<name>/config.yml run`
// processes that no service manager knows of, so neither replacing the
// connector unit nor starting the hub's own connector ends them; and a
// second connector of the same tunnel keeps serving the hostname with
// whatever config it started with (reference §9.30, hub#487).
//
// A recorded pid is only a hint: it may have been reused by any program
// since. Stop signals it only when the process's command line is a
// cloudflared connector of that very tunnel (its config file, UUID or
// name), and never a pid the caller spares (our connector unit's main
// process, the hub, the hub's own connector children).
package prior

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/openparachute/parachute/internal/expose/state"
)

// Defaults of Options.
const (
	// DefaultGrace is how long a connector has to exit after SIGTERM
	// before it gets SIGKILL (cloudflared's own grace period is 30 s, but
	// it exits at once when it has no requests in flight).
	DefaultGrace = 5 * time.Second
	// DefaultKillWait bounds the wait after SIGKILL.
	DefaultKillWait = 2 * time.Second
	// DefaultPoll is how often Stop looks whether a signalled connector
	// is gone.
	DefaultPoll = 20 * time.Millisecond
)

// ErrNoProcess means no live process has the pid (a zombie counts as
// gone: it no longer runs anything).
var ErrNoProcess = errors.New("no such process")

// Inspect reads a live process the platform's way (/proc on Linux, `ps`
// elsewhere). It returns ErrNoProcess for a pid that no longer runs.
func Inspect(ctx context.Context, pid int) (Process, error) { return inspect(ctx, pid) }

// List lists the live processes the platform's way; those that exit
// meanwhile, or cannot be read, are left out.
func List(ctx context.Context) ([]Process, error) { return list(ctx) }

// Process is what Stop knows of a live process.
type Process struct {
	PID  int
	PPID int
	// UID owns the process (-1: unknown).
	UID int
	// Argv is the command line; on macOS (read through ps) the words of
	// it, split at spaces.
	Argv []string
}

// Target is the tunnel this hub is about to run a connector for. A record
// of cloudflared-state.json concerns it when it names the same tunnel,
// UUID or config file, or serves the same hostname (the reference's old
// shared "parachute" tunnel, which a dedicated tunnel replaces).
type Target struct {
	Name       string
	UUID       string
	Hostname   string
	ConfigPath string
}

func (t Target) concerns(r state.LegacyTunnel) bool {
	eq := func(a, b string) bool { return a != "" && a == b }
	return eq(r.Name, t.Name) || eq(r.UUID, t.UUID) || eq(r.ConfigPath, t.ConfigPath) ||
		eq(strings.ToLower(r.Hostname), strings.ToLower(t.Hostname))
}

// Options configure Stop.
type Options struct {
	// Root is the config root holding cloudflared-state.json.
	Root string
	// Spare are pids never signalled: the connector unit's main process
	// and the hub. os.Getpid() is always spared.
	Spare []int
	// SpareChildrenOf spares every process whose parent is one of these
	// pids: the hub's own connector children.
	SpareChildrenOf []int
	// Inspect reads a live process; nil means the platform's (/proc on
	// Linux, `ps` elsewhere). It returns ErrNoProcess for a pid that no
	// longer runs.
	Inspect func(ctx context.Context, pid int) (Process, error)
	// Orphans also stops connectors of the tunnel that no record names.
	// Set it only when every connector of ours is spared (the hub's pid
	// is known): an orphan is recognised by its command line alone, which
	// the hub's own connector shares.
	Orphans bool
	// List lists the live processes, for orphans; nil means the
	// platform's.
	List func(ctx context.Context) ([]Process, error)
	// Signal sends sig to pid; nil means syscall.Kill.
	Signal func(pid int, sig syscall.Signal) error
	// Grace, KillWait and Poll default to DefaultGrace, DefaultKillWait
	// and DefaultPoll.
	Grace, KillWait, Poll time.Duration
}

// Outcome is what Stop did about one record of cloudflared-state.json.
type Outcome struct {
	Tunnel state.LegacyTunnel
	// Stopped reports that its connector was running and was stopped.
	Stopped bool
	// Taken reports that the record may be forgotten: its connector is
	// gone (stopped now, or not running), or its pid runs something else.
	Taken bool
	// Orphan reports a connector of the tunnel no record names (Tunnel
	// then holds only its name and pid).
	Orphan bool
	// Message tells the operator what happened.
	Message string
}

// Stop stops the running connectors cloudflared-state.json records for
// tunnels t concerns, then (with Orphans) the orphans: processes of this
// user running a cloudflared connector of t's tunnel (its config file,
// UUID or name) or of a concerned record's, as the reference's
// `pgrep -fl cloudflared` sweep does (reference §6.8). Each gets SIGTERM, then SIGKILL after
// Grace. It never signals a process that is not a cloudflared connector
// of the tunnel, nor a spared one. With no file and no orphan it returns
// no outcomes. The error joins what could not be read or stopped; the
// outcomes are still valid.
func Stop(ctx context.Context, o Options, t Target) ([]Outcome, error) {
	recs, err := state.LegacyRecords(o.Root)
	if err != nil {
		return nil, err
	}
	if o.Inspect == nil {
		o.Inspect = inspect
	}
	if o.Signal == nil {
		o.Signal = func(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.KillWait <= 0 {
		o.KillWait = DefaultKillWait
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.List == nil {
		o.List = list
	}
	var out []Outcome
	var errs []error
	handled := map[int]bool{}
	match := []state.LegacyTunnel{{Name: t.Name, UUID: t.UUID, ConfigPath: t.ConfigPath}}
	for _, r := range recs {
		if !t.concerns(r) {
			continue
		}
		oc, err := o.stopOne(ctx, r)
		out = append(out, oc)
		if err != nil {
			errs = append(errs, err)
		}
		handled[r.PID] = true
		match = append(match, r)
	}
	if o.Orphans {
		orphans, err := o.orphans(ctx, match, handled)
		out = append(out, orphans...)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// orphans stops this user's connectors of the tunnels in match that no
// record named (pids in handled were dealt with).
func (o *Options) orphans(ctx context.Context, match []state.LegacyTunnel, handled map[int]bool) ([]Outcome, error) {
	ps, err := o.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("looking for orphan connectors: %w", err)
	}
	uid := os.Getuid()
	var out []Outcome
	var errs []error
	for _, p := range ps {
		// Why the owner check: a root `parachute` must not end another
		// user's connector of a tunnel that happens to match.
		if handled[p.PID] || p.PID <= 1 || o.spared(p) || (uid != 0 && p.UID != uid) {
			continue
		}
		i := slices.IndexFunc(match, func(r state.LegacyTunnel) bool { return IsConnectorOf(p.Argv, r) })
		if i < 0 {
			continue
		}
		r := match[i]
		r.PID = p.PID
		oc := Outcome{Tunnel: state.LegacyTunnel{Name: r.Name, PID: p.PID}, Orphan: true}
		if err := o.stopProcess(ctx, r); err != nil {
			oc.Message = fmt.Sprintf("Could not stop an orphan cloudflared connector of tunnel %q (pid %d): %v; stop it with `kill %d`.", r.Name, p.PID, err, p.PID)
			errs = append(errs, fmt.Errorf("stopping pid %d: %w", p.PID, err))
		} else {
			oc.Stopped = true
			oc.Message = fmt.Sprintf("Stopped an orphan cloudflared connector of tunnel %q (pid %d).", r.Name, p.PID)
		}
		out = append(out, oc)
	}
	return out, errors.Join(errs...)
}

func (o *Options) stopOne(ctx context.Context, r state.LegacyTunnel) (Outcome, error) {
	oc := Outcome{Tunnel: r}
	what := fmt.Sprintf("the previous hub's cloudflared connector (pid %d, tunnel %q)", r.PID, r.Name)
	if r.PID <= 1 {
		oc.Taken = true
		oc.Message = fmt.Sprintf("The previous hub recorded no connector pid for tunnel %q.", r.Name)
		return oc, nil
	}
	p, err := o.Inspect(ctx, r.PID)
	switch {
	case errors.Is(err, ErrNoProcess):
		oc.Taken = true
		oc.Message = fmt.Sprintf("%s is no longer running.", capital(what))
		return oc, nil
	case err != nil:
		oc.Message = fmt.Sprintf("Could not tell what pid %d runs, so it was left alone; if `ps -p %d -o args=` shows cloudflared for tunnel %q, run `kill %d`.", r.PID, r.PID, r.Name, r.PID)
		return oc, fmt.Errorf("inspecting pid %d: %w", r.PID, err)
	case o.spared(p):
		// Ours (the connector unit's main process, the hub's child) now
		// has the pid the previous hub recorded: the record is stale.
		oc.Taken = true
		oc.Message = fmt.Sprintf("The previous hub's record of tunnel %q names pid %d, which is now this hub's own connector; left running.", r.Name, r.PID)
		return oc, nil
	case !IsConnectorOf(p.Argv, r):
		oc.Taken = true
		oc.Message = fmt.Sprintf("The previous hub's connector of tunnel %q (pid %d) is gone; the pid now runs something else, left alone.", r.Name, r.PID)
		return oc, nil
	}
	if err := o.stopProcess(ctx, r); err != nil {
		oc.Message = fmt.Sprintf("Could not stop %s: %v; stop it with `kill %d`.", what, err, r.PID)
		return oc, fmt.Errorf("stopping pid %d: %w", r.PID, err)
	}
	oc.Stopped, oc.Taken = true, true
	oc.Message = fmt.Sprintf("Stopped %s.", what)
	return oc, nil
}

// spared reports whether p is a process Stop must never signal.
func (o *Options) spared(p Process) bool {
	return p.PID == os.Getpid() || slices.Contains(o.Spare, p.PID) ||
		(p.PPID > 1 && slices.Contains(o.SpareChildrenOf, p.PPID))
}

// stopProcess sends SIGTERM, and SIGKILL if the connector outlives Grace.
// Why it polls: the connector is not our child (the previous hub spawned
// it detached), so there is nothing to wait on; between looks it
// re-checks that the pid still runs this connector, so a pid reused
// meanwhile is never sent the SIGKILL.
func (o *Options) stopProcess(ctx context.Context, r state.LegacyTunnel) error {
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, o.Grace}, {syscall.SIGKILL, o.KillWait}} {
		if err := o.Signal(r.PID, step.sig); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return nil
			}
			return fmt.Errorf("sending %v: %w", step.sig, err)
		}
		gone, err := o.waitGone(ctx, r, step.wait)
		if gone || err != nil {
			return err
		}
	}
	return fmt.Errorf("still running %s after SIGKILL", o.KillWait)
}

// waitGone waits up to d for pid to stop running r's connector.
func (o *Options) waitGone(ctx context.Context, r state.LegacyTunnel, d time.Duration) (bool, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(o.Poll)
	defer tick.Stop()
	for {
		p, err := o.Inspect(ctx, r.PID)
		if errors.Is(err, ErrNoProcess) || (err == nil && !IsConnectorOf(p.Argv, r)) {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return false, nil
		case <-tick.C:
		}
	}
}

// IsConnectorOf reports whether argv runs cloudflared as a connector
// (`… cloudflared … tunnel … run …`) of r's tunnel: naming its config
// file, or its UUID or name as the tunnel to run. An interpreter or a
// wrapper in front of cloudflared is allowed; a program merely mentioning
// the tunnel (an editor on config.yml, `tail` of its log) is not.
func IsConnectorOf(argv []string, r state.LegacyTunnel) bool {
	i := slices.IndexFunc(argv, func(a string) bool { return filepath.Base(a) == "cloudflared" })
	if i < 0 {
		return false
	}
	rest := argv[i+1:]
	ti := slices.Index(rest, "tunnel")
	if ti < 0 {
		return false
	}
	ri := slices.Index(rest[ti+1:], "run")
	if ri < 0 {
		return false
	}
	ri += ti + 1
	if cfg := r.ConfigPath; cfg != "" {
		for j, a := range rest[ti+1:] {
			if a == "--config="+cfg || (a == cfg && j > 0 && rest[ti+j] == "--config") {
				return true
			}
		}
		// ps (macOS) prints the command line joined by spaces, so a
		// config path with a space arrives split into words.
		if strings.Contains(" "+strings.Join(rest, " ")+" ", " --config "+cfg+" ") {
			return true
		}
	}
	for _, a := range rest[ri+1:] {
		if (r.UUID != "" && a == r.UUID) || (r.Name != "" && a == r.Name) {
			return true
		}
	}
	return false
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
