// Package modops owns the hub's module operations: building a module's
// spawn request from disk, starting, stopping and restarting it under a
// per-module lock, booting every registered module, the install, upgrade
// and uninstall operations that run in the background, and the hub's own
// self-upgrade. The HTTP handlers (internal/hub), the installer's runtime
// and boot all go through one Manager, so the sequence "find the row →
// build the spec → start or restart" exists once. It never prints and
// never speaks HTTP; its callers map its errors.
package modops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/supervisor"
)

// OpTimeout bounds a start, stop or restart asked for without a deadline
// of its own (an API request), from the moment the module's lock is held.
const OpTimeout = 2 * time.Minute

// InstallOpTimeout bounds one install, upgrade or uninstall: a registry
// download plus a module's readiness window, twice over for a rollback.
const InstallOpTimeout = 15 * time.Minute

// Errors StartModule and the operations return; callers branch on them
// with errors.Is.
var (
	// ErrNotInstalled means the module has no services.json row.
	ErrNotInstalled = errors.New("not installed")
	// ErrMountRefused means every row of the module breaks the mount rules.
	ErrMountRefused = errors.New("mount refused")
	// ErrInvalidModule means the row or its module.json cannot be run
	// (ErrNoStartCmd is one such case).
	ErrInvalidModule = errors.New("invalid module")
	// ErrShuttingDown means the Manager no longer accepts operations.
	ErrShuttingDown = errors.New("the hub is shutting down")
)

// Options configures a Manager.
type Options struct {
	Paths      config.Paths
	Supervisor *supervisor.Supervisor
	// Issuer is the hub's issuer, given to modules as PARACHUTE_HUB_ORIGIN.
	Issuer string
	// IssuerFunc, when set, is asked at every module start instead of
	// Issuer, so a module restarted after `parachute expose` gets the new
	// origin without a hub restart.
	IssuerFunc func() string
	// Version is the running hub's version (the self-upgrade compares it).
	Version string
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// UpgradeHost is what the hub self-upgrade asks of the host; nil means
	// the real host (HostDefaults).
	UpgradeHost *UpgradeHost
}

// Manager runs module operations. Create it with New; stop it with
// Shutdown.
//
// Concurrency: every start, stop and restart of one module holds that
// module's lock (moduleLock), so two API calls, an install and boot never
// interleave a stop with a start. Background operations (install, upgrade,
// uninstall) run on goroutines that the Manager owns: they derive from
// base, are counted in ops, and Shutdown cancels base and waits for them,
// as the supervisor's owners WaitGroup does for its module owners.
type Manager struct {
	paths   config.Paths
	sup     *supervisor.Supervisor
	issuer  func() string
	version string
	log     *slog.Logger
	now     func() time.Time
	host    UpgradeHost
	reg     *opRegistry

	// base is the parent of every background operation's context; cancel
	// ends them all at Shutdown.
	base   context.Context
	cancel context.CancelFunc

	// mu guards closing and the Add side of ops: once closing is set no
	// new operation starts, so Shutdown's Wait cannot race an Add.
	mu      sync.Mutex
	closing bool
	ops     sync.WaitGroup

	// moduleMu guards modLocks; each value is that module's own mutex.
	moduleMu sync.Mutex
	modLocks map[string]*sync.Mutex

	// upgradeMu serialises this hub's reads and writes of the hub-upgrade
	// status file (selfupdate.StatusPath): the in-flight check, the
	// accepted record and its settling must not interleave between two
	// requests, or both would start a helper. It is held across the new
	// binary's smoke test and the helper's spawn (tens of seconds at
	// worst) because they sit between that check and that write. The
	// helper process writes the file too, one step at a time, through
	// selfupdate's own atomic update.
	upgradeMu sync.Mutex
}

// New returns a Manager.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	host := HostDefaults()
	if o.UpgradeHost != nil {
		host = *o.UpgradeHost
	}
	issuer := o.IssuerFunc
	if issuer == nil {
		fixed := o.Issuer
		issuer = func() string { return fixed }
	}
	base, cancel := context.WithCancel(context.Background())
	return &Manager{
		paths: o.Paths, sup: o.Supervisor, issuer: issuer, version: o.Version,
		log: o.Logger, now: o.Now, host: host,
		reg:  newOpRegistry(100, time.Hour, o.Now),
		base: base, cancel: cancel, modLocks: map[string]*sync.Mutex{},
	}
}

// Issuer is the origin modules are given as PARACHUTE_HUB_ORIGIN now.
func (m *Manager) Issuer() string { return m.issuer() }

// moduleLock returns the per-module mutex.
func (m *Manager) moduleLock(short string) *sync.Mutex {
	m.moduleMu.Lock()
	defer m.moduleMu.Unlock()
	l, ok := m.modLocks[short]
	if !ok {
		l = &sync.Mutex{}
		m.modLocks[short] = l
	}
	return l
}

// track counts one background operation the Manager owns: its context
// derives from base (cancelled by Shutdown) and is bounded by timeout, and
// done must be called when it returns. It fails with ErrShuttingDown once
// Shutdown has begun, so Shutdown's Wait never races an Add.
func (m *Manager) track(timeout time.Duration) (ctx context.Context, done func(), err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return nil, nil, ErrShuttingDown
	}
	m.ops.Add(1)
	ctx, cancel := context.WithTimeout(m.base, timeout)
	return ctx, func() { cancel(); m.ops.Done() }, nil
}

// Shutdown refuses new operations, cancels the running ones and waits for
// them to return (an installer that is cancelled rolls back what it had
// begun), or for ctx to end. It does not stop modules: the supervisor's
// Shutdown does, after this.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	m.cancel()
	done := make(chan struct{})
	go func() { m.ops.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for module operations to finish: %w", ctx.Err())
	}
}
