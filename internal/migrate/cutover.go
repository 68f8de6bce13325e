// Package migrate moves a box from the legacy detached model (a hub and
// modules started as independent daemons with pidfiles) to the supervised
// model (`parachute serve` under the platform's service manager), and back.
//
// The cutover is ordered so that a failure at any step leaves the box
// recoverable by re-running it: write the unit without starting it, stop
// the legacy processes by their pidfiles, free only ports held by our own
// processes, prove the ports are free, start the unit, and verify the hub
// and its modules (reference lifecycle.md §5.4).
//
// The archive sweep (sweep.go) moves files the legacy hub left at the top
// of the config root into a dated archive directory, by rename only
// (§5.1–5.3).
package migrate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubsvc"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/ports"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// Outcome names how a cutover ended; anything but Migrated and
// AlreadyMigrated comes with an error.
type Outcome string

// Cutover outcomes (the reference's names, so scripts keep working).
const (
	Migrated        Outcome = "migrated"
	AlreadyMigrated Outcome = "already-migrated"
	NoManager       Outcome = "no-manager"
	WriteFailed     Outcome = "write-failed"
	PortStuck       Outcome = "port-stuck"
	StartFailed     Outcome = "start-failed"
	VerifyTimeout   Outcome = "verify-timeout"
)

// Cutover performs `parachute migrate --to-supervised`.
type Cutover struct {
	Paths config.Paths
	Ctl   *hubsvc.Controller
	// HubPort is the hub's port (the unit's PORT).
	HubPort int
	// Grace is how long a legacy process gets after SIGTERM, and how long a
	// port may take to become free. Default 15 s.
	Grace time.Duration
	// Modules, if set, reports the supervised modules' states after the
	// start, for the final verification (short → ready, error text).
	Modules func(ctx context.Context) (map[string]string, error)
	Logf    func(format string, args ...any)
}

func (c *Cutover) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// legacyProc is a process named by a legacy pidfile.
type legacyProc struct {
	label   string
	pidfile string
	pid     int
}

// Run performs the cutover. It is idempotent: on a migrated, healthy box it
// changes nothing, and after a failure it can simply be run again.
func (c *Cutover) Run(ctx context.Context) (Outcome, error) {
	if c.Grace == 0 {
		c.Grace = 15 * time.Second
	}
	ctl := c.Ctl
	if ctl.Mgr.Kind() == servicemgr.KindNone {
		return NoManager, fmt.Errorf("this host has no service manager (systemd/launchd) — the supervised model needs one; run `parachute serve` in the foreground instead")
	}
	st, _ := ctl.State(ctx)
	if hubsvc.Usable(st) && ctl.Health(ctx) == nil && len(c.legacy()) == 0 {
		return AlreadyMigrated, nil
	}
	c.logf("Migrating to the supervised model (parachute serve under %s).", ctl.Label(st))
	if st.Installed {
		c.logf("Found a hub unit already written (resuming a prior cutover).")
	}
	u, err := c.writeUnit(ctx)
	if err != nil {
		return WriteFailed, err
	}
	owned, err := c.stopLegacy()
	if err != nil {
		return PortStuck, err
	}
	want := c.declaredPorts()
	if err := c.sweepOrphans(want, owned); err != nil {
		return PortStuck, err
	}
	if err := c.waitPortsFree(ctx, want); err != nil {
		return PortStuck, err
	}
	if err := c.startUnit(ctx, u.Name); err != nil {
		return StartFailed, err
	}
	if err := c.verifyHub(ctx); err != nil {
		return VerifyTimeout, err
	}
	return Migrated, nil
}

// writeUnit is step 1: write the hub unit without starting it.
func (c *Cutover) writeUnit(ctx context.Context) (servicemgr.Unit, error) {
	c.logf("Writing the hub unit file (not starting it yet)…")
	u, err := c.Ctl.DefaultRender()
	if err == nil {
		if err = c.Paths.EnsureRoot(); err == nil {
			var msgs []string
			msgs, err = c.Ctl.Mgr.Install(ctx, u, false)
			for _, m := range msgs {
				c.logf("  %s", m)
			}
		}
	}
	if err != nil {
		return u, fmt.Errorf("could not write the hub unit file — nothing was stopped: %w", err)
	}
	c.logf("  ✓ wrote %s", u.Path)
	return u, nil
}

// stopLegacy is step 2: stop the legacy processes by their pidfiles. It
// returns their pids, which sweepOrphans may stop again by port.
func (c *Cutover) stopLegacy() (owned map[int]bool, err error) {
	c.logf("Stopping the detached hub + modules…")
	owned = map[int]bool{}
	for _, p := range c.legacy() {
		owned[p.pid] = true
		if err := c.stopProc(p); err != nil {
			return owned, err
		}
		c.logf("  ✓ stopped %s (pid %d)", p.label, p.pid)
	}
	return owned, nil
}

// sweepOrphans is step 3: free the declared ports, but only from our own
// processes (a legacy pid, or a command line naming parachute).
func (c *Cutover) sweepOrphans(want []declaredPort, owned map[int]bool) error {
	c.logf("Sweeping orphaned processes still bound to declared ports…")
	for _, dp := range want {
		h, ok := ports.HolderOf(dp.port)
		if !ok {
			if ports.Listening(dp.port, 200*time.Millisecond) {
				// Another user's process: /proc hides its sockets from us,
				// and it is certainly not ours to kill.
				c.logf("  ⚠ port %d for %s is held by a process this account cannot identify; refusing to kill it.", dp.port, dp.label)
			}
			continue
		}
		if !owned[h.PID] && !strings.Contains(strings.ToLower(h.Cmd), "parachute") {
			c.logf("  ⚠ port %d for %s is held by an unrelated process (%s: %s); refusing to kill it.", dp.port, dp.label, h, h.Cmd)
			continue
		}
		c.logf("  orphan on port %d (%s, %s) — stopping it.", dp.port, dp.label, h)
		if err := c.stopProc(legacyProc{label: dp.label, pid: h.PID}); err != nil {
			return err
		}
	}
	return nil
}

// waitPortsFree is step 4: prove the ports are free before starting
// anything.
func (c *Cutover) waitPortsFree(ctx context.Context, want []declaredPort) error {
	c.logf("Verifying ports are free before starting the unit…")
	for _, dp := range want {
		if !c.waitPortFree(ctx, dp.port) {
			return fmt.Errorf("port %d (%s) is still held by %s after stopping the detached processes.\n"+
				"The hub unit is written but NOT started — your box is unchanged except the unit file.\n"+
				"Stop that process, then re-run `parachute migrate --to-supervised`", dp.port, dp.label, ports.Describe(dp.port))
		}
	}
	return nil
}

// startUnit is step 5: start the hub unit.
func (c *Cutover) startUnit(ctx context.Context, name string) error {
	c.logf("Starting the hub unit…")
	if err := c.Ctl.Mgr.Start(ctx, name); err != nil {
		return fmt.Errorf("could not start the hub unit: %w", err)
	}
	return nil
}

// verifyHub is step 6: wait for the hub's /health, then (given Modules)
// for its modules to come back under the supervisor.
func (c *Cutover) verifyHub(ctx context.Context) error {
	c.logf("Verifying the supervised hub is healthy…")
	if err := c.Ctl.WaitHealthy(ctx); err != nil {
		return err
	}
	if c.Modules == nil {
		return nil
	}
	return c.verifyModules(ctx)
}

// legacy lists live processes named by legacy pidfiles: hub/run/hub.pid
// and <short>/run/<short>.pid for each registered module.
func (c *Cutover) legacy() []legacyProc {
	var out []legacyProc
	for _, pf := range legacyPIDFiles(c.Paths) {
		pid, err := livePID(pf.path)
		if err != nil {
			continue
		}
		if pid == 0 {
			os.Remove(pf.path) // stale: nothing to stop
			continue
		}
		out = append(out, legacyProc{label: pf.label, pidfile: pf.path, pid: pid})
	}
	return out
}

// pidFile is one legacy pidfile and what it is the pidfile of.
type pidFile struct{ label, path string }

// legacyPIDFiles are the legacy pidfiles: hub/run/hub.pid, then
// <short>/run/<short>.pid of each module services.json registers, by name.
func legacyPIDFiles(paths config.Paths) []pidFile {
	out := []pidFile{{"hub", paths.HubPIDFile()}}
	f, _ := manifest.LoadLenient(paths.ServicesJSON()) // never nil
	shorts := map[string]bool{}
	for _, row := range f.Services {
		shorts[manifest.ShortName(row.Name)] = true
	}
	for _, short := range slices.Sorted(maps.Keys(shorts)) {
		out = append(out, pidFile{short, paths.LegacyModulePIDFile(short)})
	}
	return out
}

// livePID is the live process a pidfile names: 0 when it names none (not
// a pid, or a process that is gone); an error when it cannot be read.
func livePID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || !alive(pid) {
		return 0, nil
	}
	return pid, nil
}

type declaredPort struct {
	port  int
	label string
}

func (c *Cutover) declaredPorts() []declaredPort {
	out := []declaredPort{{c.HubPort, "hub"}}
	f, _ := manifest.LoadLenient(c.Paths.ServicesJSON())
	seen := map[int]bool{c.HubPort: true}
	for _, row := range f.Services {
		if !seen[row.Port] {
			seen[row.Port] = true
			out = append(out, declaredPort{row.Port, manifest.ShortName(row.Name)})
		}
	}
	return out
}

// stopProc sends SIGTERM to the process's group (so a wrapper's children go
// too), then SIGKILL after the grace period, and removes its pidfile.
func (c *Cutover) stopProc(p legacyProc) error {
	target := p.pid
	if pg, err := syscall.Getpgid(p.pid); err == nil && pg == p.pid {
		target = -p.pid // it leads its own group: signal the whole group
	}
	_ = syscall.Kill(target, syscall.SIGTERM)
	deadline := time.Now().Add(c.Grace)
	for alive(p.pid) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(p.pid) {
		c.logf("  %s didn't exit; sending SIGKILL.", p.label)
		_ = syscall.Kill(target, syscall.SIGKILL)
		for end := time.Now().Add(5 * time.Second); alive(p.pid) && time.Now().Before(end); {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(p.pid) {
			return fmt.Errorf("%s (pid %d) survived SIGKILL", p.label, p.pid)
		}
	}
	if p.pidfile != "" {
		os.Remove(p.pidfile)
	}
	return nil
}

func (c *Cutover) waitPortFree(ctx context.Context, port int) bool {
	deadline := time.Now().Add(c.Grace)
	for ports.Listening(port, 200*time.Millisecond) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
	return true
}

func (c *Cutover) verifyModules(ctx context.Context) error {
	f, _ := manifest.LoadLenient(c.Paths.ServicesJSON())
	// The hub never starts a row the mount rules refuse (it logs why and
	// status shows it), so waiting for one would only time out.
	f.Services, _ = manifest.Routable(f.Services)
	if len(f.Services) == 0 {
		return nil
	}
	c.logf("Verifying the modules came back under the supervisor…")
	deadline := time.Now().Add(c.Grace)
	for {
		states, err := c.Modules(ctx)
		pending := []string{}
		if err == nil {
			for _, row := range f.Services {
				short := manifest.ShortName(row.Name)
				if s := states[short]; s != "ready" {
					pending = append(pending, short+" ("+orUnknown(s)+")")
				}
			}
			if len(pending) == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return fmt.Errorf("the hub is up but its module states could not be read: %w", err)
			}
			return fmt.Errorf("the hub is up but these modules are not ready: %s — see `parachute status` and `parachute logs <module>`", strings.Join(pending, ", "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "not supervised"
	}
	return s
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc (macOS): trust kill(0)
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
