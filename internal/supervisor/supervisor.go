// Package supervisor runs the hub's modules as attached child processes:
// it spawns them in their own process groups (and, under systemd with a
// delegated cgroup subtree, their own cgroups: cgroup_linux.go), waits for
// proof that they serve, restarts them after crashes on a budget (the
// first crash at once, later ones with exponential backoff), stops them (and everything they forked) on request or at shutdown, and
// carries their output to the hub's stdout, rotating files, an in-memory
// ring and live followers (package logsink).
//
// # Ownership
//
// Each module has one owner goroutine (owner.go) that alone spawns, signals,
// reaps and restarts its process; callers talk to it through commands on
// module.cmds, so no two actors ever act on one child (the races of the
// reference hub, runtime.md §8.15). Around each process run.go starts a
// waiter goroutine (exit notification), two pumps (stdout, stderr → logsink)
// and a readiness prober, all joined before the owner forgets the process.
// The owner publishes a State snapshot under module.mu; Get and List read
// only that snapshot. Usage reads the cgroup (or /proc) of the pid and
// cgroup in that snapshot; it owns nothing, and a module gone meanwhile
// only makes it report no usage.
//
// # Locks
//
// Lock order: Supervisor.mu, then module.mu, then logsink's own lock.
// Supervisor.mu guards the module table; module.mu guards the snapshot.
// Neither is held while waiting on a process or an owner.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openparachute/parachute/internal/logsink"
)

// Status is a module's lifecycle state.
type Status string

// The statuses a module moves through.
const (
	StatusStarting   Status = "starting"   // spawned, readiness window open
	StatusRunning    Status = "running"    // ready, or past the window with StartError "started_but_unbound"
	StatusStopped    Status = "stopped"    // stopped on request
	StatusCrashed    Status = "crashed"    // gave up: budget exhausted, or the start itself failed
	StatusRestarting Status = "restarting" // crashed, waiting out the backoff before respawning
)

// Errors returned by Start, Stop, Restart and Shutdown. Callers branch on
// them with errors.Is; the wrapping error says which module and why.
var (
	ErrMissingDependency = errors.New("missing dependency")
	ErrSpawnFailed       = errors.New("spawn failed")
	ErrNotSupervised     = errors.New("module not supervised")
	ErrShuttingDown      = errors.New("supervisor is shutting down")
	ErrNotReady          = errors.New("module not ready")
	ErrExitedDuringStart = errors.New("module exited during start")
)

// StartError tells why a module did not come up. Type is one of
// "missing_dependency", "started_but_unbound", "spawn_failed" or
// "exited_during_start".
type StartError struct {
	Type        string    `json:"error_type"`
	Description string    `json:"error_description"`
	Binary      string    `json:"binary,omitempty"`
	At          time.Time `json:"at"`
}

// Spec is everything needed to run a module. The hub rebuilds it from disk
// for every start and restart.
type Spec struct {
	Short      string
	Argv       []string // argv[0] resolved against the child's PATH (from Env) and Dir; no shell
	Env        []string // complete child environment; nil = the hub's
	Dir        string   // working directory; "" = the hub's
	Port       int      // readiness: TCP connect to 127.0.0.1:Port; 0 = no probe
	HealthPath string   // with Port: readiness = GET http://127.0.0.1:Port<HealthPath> answers < 500
	Policy     Policy   // zero fields filled from DefaultPolicy
}

// State is a snapshot of one module. Pointer fields are never mutated after
// publication, so a State may be shared freely.
type State struct {
	Short            string      `json:"short"`
	Status           Status      `json:"status"`
	PID              int         `json:"pid,omitempty"`
	StartedAt        *time.Time  `json:"startedAt,omitempty"`
	Restarts         int         `json:"restarts"`         // automatic restarts since the last explicit start
	RestartsInWindow int         `json:"restartsInWindow"` // crashes in the current window
	LastCrashAt      *time.Time  `json:"lastCrashAt,omitempty"`
	LastExitCode     *int        `json:"lastExitCode"` // nil when killed by a signal or never exited
	LastExitSignal   string      `json:"lastExitSignal,omitempty"`
	StartError       *StartError `json:"startError,omitempty"`
	Ready            bool        `json:"ready"` // readiness probe passed for the current process
	NextRestartAt    *time.Time  `json:"nextRestartAt,omitempty"`
	Cgroup           string      `json:"cgroup,omitempty"` // the live child's cgroup directory; "" = process group only
}

// Options configures a Supervisor. Every field is optional.
type Options struct {
	Logger      *slog.Logger              // the supervisor's own lines; nil = discard
	Output      io.Writer                 // hub stdout: every child line as "[<short>] <line>\n"; nil = discard
	LogDir      func(short string) string // directory for <short>.log and its rotations; nil = no files
	RunDir      func(short string) string // directory for <short>.hubchild records; nil = none
	LogMaxBytes int64                     // per log file before rotation; default 10 MiB
	LogFiles    int                       // files kept including the current one; default 3
	RingBytes   int                       // in-memory ring per module; default 64 KiB
	Clock       Clock                     // drives the restart policy; default real time
	// Cgroups, when set (DelegatedCgroups), runs each module in its own
	// cgroup; nil = process groups only.
	Cgroups *Cgroups
}

// Supervisor runs modules. Create it with New; stop it with Shutdown.
type Supervisor struct {
	opts   Options
	log    *slog.Logger
	clock  Clock
	out    *logsink.Output // nil when Options.Output is nil
	client *http.Client    // readiness probes; keep-alives off so no idle connections linger

	// onSpawn, when set (tests), is called with each new child's pid.
	onSpawn func(pid int)

	// Shutdown closes quit (after setting quitDeadline) to make every
	// owner stop its module and return, and closes hurry at its deadline
	// to turn every pending SIGTERM wait into an immediate SIGKILL.
	quit         chan struct{}
	quitDeadline time.Time // written before quit is closed; read after
	hurry        chan struct{}

	mu       sync.Mutex // guards the fields below
	modules  map[string]*module
	order    []*module // first-start order
	closing  bool
	shutdown chan struct{} // closed when Shutdown has finished
	owners   sync.WaitGroup
}

// module is one supervised module: its command channel, its log sink and
// the snapshot its owner publishes.
type module struct {
	short string
	sink  *logsink.Sink
	cmds  chan command  // received only by the owner goroutine
	done  chan struct{} // closed when the owner goroutine returns

	mu    sync.Mutex // guards state
	state State
}

func (m *module) snapshot() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// New returns a Supervisor. It starts no goroutine until the first Start.
func New(opts Options) *Supervisor {
	s := &Supervisor{
		opts:     opts,
		log:      opts.Logger,
		clock:    opts.Clock,
		modules:  map[string]*module{},
		shutdown: make(chan struct{}),
		quit:     make(chan struct{}),
		hurry:    make(chan struct{}),
		client:   &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if opts.Output != nil {
		s.out = logsink.NewOutput(opts.Output)
	}
	return s
}

// validate checks a Spec and fills its Policy defaults.
func (sp Spec) validate() (Spec, error) {
	switch {
	case sp.Short == "" || sp.Short == "." || sp.Short == ".." || strings.ContainsAny(sp.Short, `/\`+"\x00"):
		return sp, fmt.Errorf("invalid module name %q", sp.Short)
	case len(sp.Argv) == 0 || sp.Argv[0] == "":
		return sp, fmt.Errorf("module %s: empty command", sp.Short)
	case sp.Port < 0 || sp.Port > 65535:
		return sp, fmt.Errorf("module %s: invalid port %d", sp.Short, sp.Port)
	}
	sp.Argv = slices.Clone(sp.Argv)
	sp.Env = slices.Clone(sp.Env)
	sp.Policy = sp.Policy.withDefaults()
	return sp, nil
}

// lookup returns the module named short, creating it (and its owner) when
// create is set.
func (s *Supervisor) lookup(short string, create bool) (*module, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrShuttingDown
	}
	if m, ok := s.modules[short]; ok {
		return m, nil
	}
	if !create {
		return nil, ErrNotSupervised
	}
	m := &module{
		short: short,
		cmds:  make(chan command),
		done:  make(chan struct{}),
		state: State{Short: short, Status: StatusStopped},
	}
	sinkOpts := logsink.Options{
		Short:     short,
		Output:    s.out,
		RingBytes: s.opts.RingBytes,
		Errorf: func(format string, a ...any) {
			s.log.Warn(fmt.Sprintf(format, a...), "module", short)
		},
	}
	if s.opts.LogDir != nil {
		sinkOpts.File = logsink.NewRotatingFile(filepath.Join(s.opts.LogDir(short), short+".log"), s.opts.LogMaxBytes, s.opts.LogFiles)
	}
	m.sink = logsink.New(sinkOpts)
	s.modules[short] = m
	s.order = append(s.order, m)
	s.owners.Add(1)
	go func() {
		defer s.owners.Done()
		defer close(m.done)
		newOwner(s, m).loop()
	}()
	return m, nil
}

// call sends c to m's owner and waits for its reply, or for ctx.
func call(ctx context.Context, m *module, c command, reply <-chan result) (State, error) {
	select {
	case m.cmds <- c:
	case <-m.done:
		return m.snapshot(), ErrShuttingDown
	case <-ctx.Done():
		return m.snapshot(), ctx.Err()
	}
	select {
	case r := <-reply:
		return r.state, r.err
	case <-ctx.Done():
		// The owner carries on with the command; the caller stops waiting.
		return m.snapshot(), ctx.Err()
	}
}

// Start starts the module described by spec and waits until it is ready, it
// fails, or ctx is done. Starting a module that is starting or running does
// nothing (it joins the pending readiness wait, or reports the current
// state); starting a stopped, crashed or restarting module is an explicit
// start: the crash budget, backoff and log ring begin afresh and spec
// replaces the previous one.
//
// The error says how the start went: nil (running and ready),
// ErrMissingDependency or ErrSpawnFailed (status crashed, nothing running),
// ErrExitedDuringStart (the child exited inside the readiness window; the
// crash policy applies), ErrNotReady (running but the readiness probe has
// not passed: StartError "started_but_unbound"; probing continues in the
// background), or ErrShuttingDown.
func (s *Supervisor) Start(ctx context.Context, spec Spec) (State, error) {
	spec, err := spec.validate()
	if err != nil {
		return State{}, err
	}
	m, err := s.lookup(spec.Short, true)
	if err != nil {
		return State{}, err
	}
	reply := make(chan result, 1)
	return call(ctx, m, cmdStart{spec: spec, reply: reply}, reply)
}

// Stop stops a module: one SIGTERM to each of its processes (its process
// group; with a cgroup, every process in the cgroup, which also holds what
// setsid()ed away), SIGKILL after the policy's StopGrace (or at ctx's
// deadline, if sooner; with a cgroup, through cgroup.kill), and returns
// once the child has exited and its group, or cgroup, is empty. A pending
// restart is cancelled.
// Stopping a stopped or crashed module only records the stop; no signal is
// sent to a process the supervisor does not hold. supervised is false (and
// the State empty) when the module was never started. If ctx is done before
// the child is gone, Stop returns ctx.Err() and the stop completes anyway.
func (s *Supervisor) Stop(ctx context.Context, short string) (st State, supervised bool, err error) {
	m, err := s.lookup(short, false)
	if errors.Is(err, ErrNotSupervised) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, err
	}
	reply := make(chan result, 1)
	deadline, _ := ctx.Deadline()
	st, err = call(ctx, m, cmdStop{deadline: deadline, reply: reply}, reply)
	return st, true, err
}

// Restart stops the module (as Stop) and starts it again with spec, as an
// explicit Start. The module stays listed throughout. A module never started
// gives ErrNotSupervised.
func (s *Supervisor) Restart(ctx context.Context, spec Spec) (State, error) {
	spec, err := spec.validate()
	if err != nil {
		return State{}, err
	}
	m, err := s.lookup(spec.Short, false)
	if err != nil {
		return State{}, fmt.Errorf("restarting %s: %w", spec.Short, err)
	}
	reply := make(chan result, 1)
	deadline, _ := ctx.Deadline()
	return call(ctx, m, cmdRestart{spec: spec, deadline: deadline, reply: reply}, reply)
}

// Get returns a module's state.
func (s *Supervisor) Get(short string) (State, bool) {
	s.mu.Lock()
	m, ok := s.modules[short]
	s.mu.Unlock()
	if !ok {
		return State{}, false
	}
	return m.snapshot(), true
}

// List returns every module's state in first-start order.
func (s *Supervisor) List() []State {
	s.mu.Lock()
	mods := slices.Clone(s.order)
	s.mu.Unlock()
	out := make([]State, len(mods))
	for i, m := range mods {
		out[i] = m.snapshot()
	}
	return out
}

func (s *Supervisor) sink(short string) (*logsink.Sink, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.modules[short]
	if !ok {
		return nil, false
	}
	return m.sink, true
}

// Logs returns the newest n lines of the module's ring (n <= 0: all),
// oldest first, each "[short] line\n". ok is false for an unknown module.
func (s *Supervisor) Logs(short string, n int) (lines []string, ok bool) {
	sk, ok := s.sink(short)
	if !ok {
		return nil, false
	}
	return sk.Lines(n), true
}

// Follow returns the newest backlog lines (backlog < 0: all, 0: none) and a
// channel of every later line; the channel is closed when ctx is done or at
// Shutdown. A follower that falls behind loses lines and is told so by a
// "[supervisor] … dropped" line; it never slows the module.
func (s *Supervisor) Follow(ctx context.Context, short string, backlog int) (lines []string, ch <-chan string, ok bool) {
	sk, ok := s.sink(short)
	if !ok {
		return nil, nil, false
	}
	lines, ch = sk.Follow(ctx, backlog)
	return lines, ch, true
}

// Shutdown stops every module in parallel. Each gets SIGTERM at once and
// SIGKILL after its StopGrace or at ctx's deadline, whichever comes first;
// Shutdown returns when all children and their groups are gone, with
// ctx.Err() if the deadline forced kills. Later calls to Start, Stop and
// Restart return ErrShuttingDown; a second Shutdown waits for the first.
func (s *Supervisor) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		select {
		case <-s.shutdown:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.closing = true
	mods := slices.Clone(s.order)
	s.mu.Unlock()
	defer close(s.shutdown)

	s.quitDeadline, _ = ctx.Deadline()
	close(s.quit) // every owner stops its module now, in parallel
	all := make(chan struct{})
	go func() { s.owners.Wait(); close(all) }()
	var forced error
	select {
	case <-all:
	case <-ctx.Done():
		forced = fmt.Errorf("stopping modules: %w", ctx.Err())
		close(s.hurry)
		<-all
	}

	// Flush logs with a fresh bound: ctx may already be spent.
	fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	errs := []error{forced}
	for _, m := range mods {
		if err := m.sink.Close(fctx); err != nil {
			errs = append(errs, fmt.Errorf("closing logs of %s: %w", m.short, err))
		}
	}
	s.client.CloseIdleConnections()
	return errors.Join(errs...)
}
