// Package connector runs, inside `parachute serve`, the Cloudflare Tunnel
// connectors that `parachute expose` could not install as services.
//
// Where there is a service manager (systemd, launchd) the connector is its
// own unit and survives reboots without the hub (package expose). In a
// container, on Fly, or on a box without a systemd user bus there is none,
// and the reference falls back to a detached `cloudflared … run` that dies
// with the container and is never restarted. Here expose records the tunnel
// with connector "hub" instead, and the running hub supervises
// `cloudflared tunnel --config <config.yml> run` like a module: started at
// hub boot and whenever expose-state.json gains such a tunnel, restarted
// when it exits (no crash ceiling, as the unit has none), its output in the
// hub's output and a rotating log in the tunnel's directory, and stopped
// when its record goes (`expose … off`) or the hub stops. So the connector
// lives exactly as long as the hub: a container restart or a redeploy that
// keeps the config root and ~/.cloudflared brings both back together.
//
// # Ownership
//
// Start's goroutine alone reads the state file and starts and stops
// connectors; they run in a Supervisor of their own, so they never show up
// in (or collide with) the module API. Stop cancels that goroutine, which
// shuts the supervisor down before Stop returns.
package connector

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/prior"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/supervisor"
)

// Prefix starts the supervisor name of every connector:
// "cloudflared-<tunnel>" is also its log prefix and log file name.
const Prefix = "cloudflared-"

// DefaultPoll is how often the state file is checked for a change (a stat;
// it is read only when it changed).
const DefaultPoll = 2 * time.Second

// ShutdownDeadline bounds stopping the connectors when the hub exits.
const ShutdownDeadline = 10 * time.Second

// Options configure Start.
type Options struct {
	// Root is the config root holding expose-state.json; each tunnel's
	// log and child record go to <Root>/cloudflared/<tunnel>/.
	Root string
	// Output is the hub's output; connector lines are prefixed
	// "[cloudflared-<tunnel>] ". nil discards them.
	Output io.Writer
	Logger *slog.Logger
	// Poll is the state-file check interval; 0 means DefaultPoll.
	Poll time.Duration
	// Policy is the connectors' restart policy; zero fields take
	// RestartPolicy's.
	Policy supervisor.Policy
	// Reconciled, if set, is called by Start's goroutine after each pass
	// that found the state file changed (and after the first), with the
	// connectors it keeps running (tests wait on it).
	Reconciled func(running []string)
}

// RestartPolicy is how a connector is restarted: at once after the first
// exit, then with backoff up to 30 s, and never given up on — the site is
// down while the connector is, and the service unit has no ceiling either.
func RestartPolicy() supervisor.Policy {
	return supervisor.Policy{MaxCrashes: math.MaxInt32, BackoffMax: 30 * time.Second, StopGrace: 5 * time.Second}
}

// Start runs the hub-run connectors recorded under o.Root until ctx ends
// or stop is called; stop waits until every connector has exited.
func Start(ctx context.Context, o Options) (stop func()) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	pol := RestartPolicy()
	if o.Policy != (supervisor.Policy{}) {
		pol = o.Policy
	}
	dir := func(short string) string {
		return filepath.Join(o.Root, "cloudflared", strings.TrimPrefix(short, Prefix))
	}
	r := &reconciler{o: o, policy: pol, applied: map[string]supervisor.Spec{},
		sup: supervisor.New(supervisor.Options{Logger: o.Logger, Output: o.Output, LogDir: dir, RunDir: dir})}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.loop(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// reconciler is Start's goroutine's state; only that goroutine touches it.
type reconciler struct {
	o      Options
	policy supervisor.Policy
	sup    *supervisor.Supervisor
	// fi is the state file last read (nil: missing or never read).
	fi os.FileInfo
	// applied is the spec each running connector was started with.
	applied map[string]supervisor.Spec
}

func (r *reconciler) loop(ctx context.Context) {
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownDeadline)
		defer cancel()
		if err := r.sup.Shutdown(sctx); err != nil {
			r.o.Logger.Warn("stopping the Cloudflare connectors", "err", err)
		}
	}()
	r.reapStale()
	r.pass(ctx, true)
	t := time.NewTicker(r.o.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.pass(ctx, false)
		}
	}
}

// reapStale ends connectors a previous hub left behind when it was
// killed without a chance to stop them, so a restarted hub never runs a
// second connector for a tunnel.
func (r *reconciler) reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(r.o.Root, "cloudflared", "*"))
	for _, d := range dirs {
		if _, err := supervisor.ReapStale(d, r.o.Logger); err != nil {
			r.o.Logger.Warn("could not clear a stale connector record", "dir", d, "err", err)
		}
	}
}

// pass re-reads expose-state.json if it changed (or first is set) and
// makes the running connectors match it.
func (r *reconciler) pass(ctx context.Context, first bool) {
	path := filepath.Join(r.o.Root, state.StateFile)
	fi, statErr := os.Lstat(path)
	if statErr != nil {
		fi = nil
	}
	if !first && sameFile(r.fi, fi) {
		return
	}
	r.fi = fi
	// Why: the record names the program the hub runs. As for services.json
	// (modops.BuildSpec), a root hub must not take it from a file another
	// user can change; CheckTrust refuses that and warns otherwise.
	warnings, err := config.Paths{Root: r.o.Root}.CheckTrust(path)
	for _, w := range warnings {
		r.o.Logger.Warn(w)
	}
	if err == nil {
		var st *state.State
		if st, err = state.Load(r.o.Root); err == nil {
			r.apply(ctx, st)
			return
		}
	}
	// Keep what runs: a half-edited file must not take the site down.
	r.o.Logger.Warn("cannot use the exposure state; Cloudflare connectors left as they are", "err", err)
	r.reconciled()
}

// apply makes the running connectors the ones st records.
func (r *reconciler) apply(ctx context.Context, st *state.State) {
	want := Specs(st, r.policy, r.o.Logger)
	for _, short := range sortedKeys(r.applied) {
		if _, ok := want[short]; ok {
			continue
		}
		if _, _, err := r.sup.Stop(ctx, short); err != nil && !errors.Is(err, supervisor.ErrNotSupervised) {
			r.o.Logger.Warn("stopping a Cloudflare connector", "connector", short, "err", err)
			continue
		}
		r.o.Logger.Info("stopped the Cloudflare connector; its tunnel is no longer exposed", "connector", short)
		delete(r.applied, short)
	}
	for _, short := range sortedKeys(want) {
		spec := want[short]
		old, running := r.applied[short]
		if running && slices.Equal(old.Argv, spec.Argv) {
			continue // running (or being restarted by the supervisor) as recorded
		}
		r.applied[short] = spec
		start := r.sup.Start
		if running {
			start = r.sup.Restart // with the new argv
		} else {
			r.stopPrior(ctx, st.Providers[state.Cloudflare].Tunnels[strings.TrimPrefix(short, Prefix)])
		}
		if _, err := start(ctx, spec); err != nil {
			// Forgotten, so the next change of the state file (the
			// operator re-running expose after installing cloudflared)
			// tries again.
			delete(r.applied, short)
			r.o.Logger.Error("starting the Cloudflare connector", "connector", short, "err", err)
			continue
		}
		r.o.Logger.Info("started the Cloudflare connector", "connector", short, "argv", spec.Argv)
	}
	r.reconciled()
}

// stopPrior stops the connector the previous (TypeScript) hub recorded
// for t in cloudflared-state.json, and orphan connectors of t, before the
// hub starts its own, so the tunnel does not get two (reference §9.30),
// and drops that record. The hub's own children, this connector's earlier
// runs among them, are spared; so is the hub.
func (r *reconciler) stopPrior(ctx context.Context, t state.Tunnel) {
	out, err := prior.Stop(ctx, prior.Options{Root: r.o.Root, SpareChildrenOf: []int{os.Getpid()}, Orphans: true},
		prior.Target{Name: t.Name, UUID: t.UUID, Hostname: t.Hostname, ConfigPath: t.ConfigPath})
	var taken []string
	for _, oc := range out {
		if oc.Taken || oc.Stopped {
			if oc.Taken && !oc.Orphan {
				taken = append(taken, oc.Tunnel.Name)
			}
			r.o.Logger.Info(oc.Message, "tunnel", t.Name)
		} else {
			r.o.Logger.Warn(oc.Message, "tunnel", t.Name)
		}
	}
	if err != nil {
		r.o.Logger.Warn("could not stop every connector the previous hub recorded", "tunnel", t.Name, "err", err)
	}
	if len(taken) > 0 {
		if err := state.ForgetLegacy(r.o.Root, taken...); err != nil {
			r.o.Logger.Warn("could not update the previous hub's record of its connectors", "file", state.LegacyTunnelsFile, "err", err)
		}
	}
}

func (r *reconciler) reconciled() {
	if r.o.Reconciled != nil {
		r.o.Reconciled(sortedKeys(r.applied))
	}
}

// sameFile reports whether b is the file a was: Save renames a new inode
// into place, so a rewrite changes the identity even within one mtime tick.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Specs are the connectors st asks the hub to run, by supervisor name.
// A tunnel whose name could not be a file name is skipped with a warning
// (the name becomes a path under the config root).
func Specs(st *state.State, pol supervisor.Policy, log *slog.Logger) map[string]supervisor.Spec {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := map[string]supervisor.Spec{}
	rec := st.Providers[state.Cloudflare]
	if rec == nil {
		return out
	}
	for name, t := range rec.Tunnels {
		if t.Connector != state.ConnectorHub {
			continue
		}
		if !state.ValidTunnelName(name) || !filepath.IsAbs(t.ConfigPath) {
			log.Warn("ignoring a Cloudflare tunnel record with a bad name or config path", "tunnel", name, "config", t.ConfigPath)
			continue
		}
		bin := t.Cloudflared
		if !filepath.IsAbs(bin) {
			bin = "cloudflared" // from the hub's PATH
		}
		out[Prefix+name] = supervisor.Spec{Short: Prefix + name, Argv: Argv(bin, t.ConfigPath), Policy: pol}
	}
	return out
}

// Argv runs a tunnel's connector from its config file.
func Argv(bin, configPath string) []string {
	return []string{bin, "tunnel", "--config", configPath, "run"}
}

// IsArgv reports whether argv is the command line of the connector Argv
// builds for configPath, whatever cloudflared binary (or interpreter in
// front of it) runs it: doctor tells the hub's connector among its
// children by it.
func IsArgv(argv []string, configPath string) bool {
	want := Argv("", configPath)[1:]
	return len(argv) > len(want) && slices.Equal(argv[len(argv)-len(want):], want)
}

// LogFile is where the hub writes a hub-run connector's output.
func LogFile(root, tunnel string) string {
	return filepath.Join(root, "cloudflared", tunnel, Prefix+tunnel+".log")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
