package supervisor

import (
	"fmt"
	"log/slog"
	"time"
)

// command is a request to a module's owner goroutine.
type command interface{ replyTo() chan<- result }

type cmdStart struct {
	spec  Spec
	reply chan<- result
}

type cmdStop struct {
	deadline time.Time // zero: StopGrace alone decides
	reply    chan<- result
}

type cmdRestart struct {
	spec     Spec
	deadline time.Time
	reply    chan<- result
}

func (c cmdStart) replyTo() chan<- result   { return c.reply }
func (c cmdStop) replyTo() chan<- result    { return c.reply }
func (c cmdRestart) replyTo() chan<- result { return c.reply }

// result answers a command; reply channels are buffered so the owner never
// waits for a caller that gave up.
type result struct {
	state State
	err   error
}

// owner is the goroutine that owns one module: every field below is touched
// only by it. It is a small state machine:
//
//	stopped|crashed|restarting --Start--> starting --ready--> running
//	starting --window passed--> running (StartError started_but_unbound)
//	starting|running --exit--> restarting (timer) --> starting ...
//	                       \--> crashed (crash budget exhausted)
//	any --Stop--> stopped;  any --Restart--> starting
type owner struct {
	s   *Supervisor
	m   *module
	log *slog.Logger

	spec     Spec
	cur      *run        // the live child; nil when none
	crashes  []time.Time // crash times inside Policy.Window
	streak   int         // consecutive crashes, for the backoff
	restarts int         // automatic restarts since the last explicit start
	timer    Timer       // pending respawn; nil when none
	waiters  []chan<- result
}

func newOwner(s *Supervisor, m *module) *owner {
	return &owner{s: s, m: m, log: s.log.With("module", m.short)}
}

func (o *owner) loop() {
	for {
		var exited <-chan struct{}
		var probe <-chan probeEvent
		var respawn <-chan time.Time
		if o.cur != nil {
			exited, probe = o.cur.leaderExited, o.cur.probe
		}
		if o.timer != nil {
			respawn = o.timer.C()
		}
		select {
		case <-o.s.quit:
			o.stopCurrent(o.s.quitDeadline)
			o.publish(func(st *State) { st.Status = StatusStopped })
			o.replyAll(fmt.Errorf("starting %s: %w", o.m.short, ErrShuttingDown))
			return
		case c := <-o.m.cmds:
			o.handle(c)
		case <-exited:
			r := o.cur
			info := o.finish(r, time.Now().Add(o.spec.Policy.StopGrace))
			o.cur = nil
			o.crashed(r, info, nil)
		case ev := <-probe:
			o.onProbe(ev)
		case <-respawn:
			o.timer = nil
			o.respawn()
		}
	}
}

func (o *owner) handle(c command) {
	if isClosed(o.s.quit) {
		// Shutdown has begun; never spawn again.
		c.replyTo() <- result{o.m.snapshot(), ErrShuttingDown}
		return
	}
	switch c := c.(type) {
	case cmdStart:
		switch o.m.snapshot().Status {
		case StatusStarting:
			o.waiters = append(o.waiters, c.reply) // share the pending readiness verdict
		case StatusRunning:
			c.reply <- result{o.m.snapshot(), o.readyErr()}
		default:
			o.explicitStart(c.spec, c.reply)
		}
	case cmdStop:
		o.stopCurrent(c.deadline)
		o.publish(func(st *State) { st.Status = StatusStopped })
		o.replyAll(fmt.Errorf("starting %s: %w: stopped before it became ready", o.m.short, ErrNotReady))
		o.log.Info(o.m.short + " stopped")
		c.reply <- result{o.m.snapshot(), nil}
	case cmdRestart:
		o.publish(func(st *State) { st.Status = StatusRestarting })
		o.stopCurrent(c.deadline)
		o.replyAll(fmt.Errorf("starting %s: %w: restarted before it became ready", o.m.short, ErrNotReady))
		o.explicitStart(c.spec, c.reply)
	}
}

// explicitStart begins afresh: new spec, empty crash history and log ring.
func (o *owner) explicitStart(spec Spec, reply chan<- result) {
	o.cancelTimer()
	o.spec = spec
	o.crashes, o.streak, o.restarts = nil, 0, 0
	o.m.sink.ResetRing()
	o.publish(func(st *State) { *st = State{Short: o.m.short, Status: StatusStarting} })
	o.waiters = append(o.waiters, reply)
	o.launch(true)
}

// launch spawns the child. A spawn failure ends an explicit start (status
// crashed: retrying a missing binary would only loop) but is an ordinary
// crash for an automatic restart.
func (o *owner) launch(explicit bool) {
	r, se := o.spawn()
	if se != nil {
		o.log.Error(fmt.Sprintf("%s cannot start: %s", o.m.short, se.Description), "error_type", se.Type)
		o.m.sink.Note(fmt.Sprintf("%s cannot start: %s", o.m.short, se.Description))
		if !explicit {
			o.crashed(nil, exitInfo{}, se)
			return
		}
		o.publish(func(st *State) {
			st.Status, st.PID, st.Ready, st.NextRestartAt, st.StartError = StatusCrashed, 0, false, nil, se
		})
		o.replyAll(startErr(o.m.short, se))
		return
	}
	o.cur = r
	started := r.startedAt
	o.publish(func(st *State) {
		st.Status, st.PID, st.StartedAt, st.Ready, st.Cgroup = StatusStarting, r.pid, &started, false, r.cgroup
		st.StartError, st.NextRestartAt, st.Restarts = nil, nil, o.restarts
	})
	o.log.Info(fmt.Sprintf("%s started (pid %d)", o.m.short, r.pid), "argv", o.spec.Argv)
	if o.spec.Port == 0 {
		o.onProbe(probeEvent{ready: true}) // nothing to probe: up once spawned
	}
}

func startErr(short string, se *StartError) error {
	sentinel := ErrSpawnFailed
	if se.Type == "missing_dependency" {
		sentinel = ErrMissingDependency
	}
	return fmt.Errorf("starting %s: %w: %s", short, sentinel, se.Description)
}

func (o *owner) onProbe(ev probeEvent) {
	if ev.ready {
		o.publish(func(st *State) { st.Status, st.Ready, st.StartError = StatusRunning, true, nil })
		if o.spec.Port > 0 {
			o.log.Info(fmt.Sprintf("%s is ready on port %d", o.m.short, o.spec.Port))
		}
		o.replyAll(nil)
		return
	}
	what := fmt.Sprintf("listening on port %d", o.spec.Port)
	if o.spec.HealthPath != "" {
		what = fmt.Sprintf("answering http://127.0.0.1:%d%s", o.spec.Port, o.spec.HealthPath)
	}
	se := &StartError{
		Type: "started_but_unbound",
		Description: fmt.Sprintf("%s started (pid %d) but is not %s after %s — it may still be coming up, or the port is held by another process; still checking",
			o.m.short, o.cur.pid, what, o.spec.Policy.ReadyTimeout),
		At: o.s.clock.Now(),
	}
	o.publish(func(st *State) { st.Status, st.StartError = StatusRunning, se })
	o.log.Warn(se.Description)
	o.replyAll(fmt.Errorf("starting %s: %w: %s", o.m.short, ErrNotReady, se.Description))
}

// readyErr is the verdict for a Start that finds the module running.
func (o *owner) readyErr() error {
	st := o.m.snapshot()
	if st.Ready {
		return nil
	}
	desc := "readiness probe has not passed"
	if st.StartError != nil {
		desc = st.StartError.Description
	}
	return fmt.Errorf("starting %s: %w: %s", o.m.short, ErrNotReady, desc)
}

// respawn is an automatic restart: after the backoff timer, or at once
// after the first crash of a streak.
func (o *owner) respawn() {
	if !isClosed(o.s.quit) {
		o.restarts++
		o.launch(false)
	}
}

// crashed applies the crash policy after r ended without a stop request
// (r is nil and se set when an automatic respawn could not spawn at all).
func (o *owner) crashed(r *run, info exitInfo, se *StartError) {
	p := o.spec.Policy
	now := o.s.clock.Now()
	if r != nil && now.Sub(r.startedAt) >= p.ResetAfter {
		o.crashes, o.streak = nil, 0 // it ran long enough: a fresh budget
	}
	kept := o.crashes[:0]
	for _, t := range o.crashes {
		if now.Sub(t) < p.Window {
			kept = append(kept, t)
		}
	}
	o.crashes = append(kept, now)
	n := len(o.crashes)

	var err error
	if se != nil {
		err = startErr(o.m.short, se)
	} else if o.m.snapshot().Status == StatusStarting {
		desc := fmt.Sprintf("%s exited %s during start (pid %d)%s", o.m.short, info, r.pid, lastLines(o.m.sink, 5))
		se = &StartError{Type: "exited_during_start", Description: desc, At: now}
		err = fmt.Errorf("starting %s: %w: %s", o.m.short, ErrExitedDuringStart, desc)
	}

	// The timer exists before the state says "restarting", so whoever sees
	// that state (a test advancing a fake clock) finds the timer armed. A
	// zero delay (the first crash of a streak) arms no timer: the respawn
	// happens below, before the owner takes its next command.
	var next *time.Time
	var delay time.Duration
	if n <= p.MaxCrashes {
		o.streak++
		delay = p.Backoff(o.streak)
		if delay > 0 {
			o.timer = o.s.clock.NewTimer(delay)
		}
		t := now.Add(delay)
		next = &t
	}
	crashAt := now
	o.publish(func(st *State) {
		st.PID, st.Ready, st.RestartsInWindow, st.LastCrashAt, st.StartError, st.Cgroup = 0, false, n, &crashAt, se, ""
		if r != nil {
			st.LastExitCode, st.LastExitSignal = info.code, info.signal
		}
		st.Status, st.NextRestartAt = StatusRestarting, next
		if next == nil {
			st.Status = StatusCrashed
		}
	})
	if next == nil {
		msg := fmt.Sprintf("%s crashed %d times within %s — giving up; start it again to retry", o.m.short, n, p.Window)
		o.log.Error(msg, "exit", info.String())
		o.m.sink.Note(msg)
	} else {
		when := "in " + delay.String()
		if delay == 0 {
			when = "now"
		}
		msg := fmt.Sprintf("%s exited %s; restart %s (crash %d of %d allowed in %s)", o.m.short, info, when, n, p.MaxCrashes, p.Window)
		if r == nil {
			msg = fmt.Sprintf("%s could not be respawned; retry %s (crash %d of %d allowed in %s)", o.m.short, when, n, p.MaxCrashes, p.Window)
		}
		o.log.Warn(msg)
		o.m.sink.Note(msg)
	}
	// Waiters of an explicit start get the crash verdict before any respawn.
	o.replyAll(err)
	if next != nil && delay == 0 {
		o.respawn()
	}
}

// stopCurrent cancels a pending restart and ends the live child, if any:
// SIGTERM, then SIGKILL after StopGrace or at deadline, whichever is sooner.
func (o *owner) stopCurrent(deadline time.Time) {
	o.cancelTimer()
	o.publish(func(st *State) { st.NextRestartAt = nil })
	if o.cur == nil {
		return
	}
	killAt := time.Now().Add(o.spec.Policy.StopGrace)
	if !deadline.IsZero() && deadline.Before(killAt) {
		killAt = deadline
	}
	info := o.finish(o.cur, killAt)
	o.cur = nil
	o.publish(func(st *State) {
		st.PID, st.Ready, st.LastExitCode, st.LastExitSignal, st.Cgroup = 0, false, info.code, info.signal, ""
	})
}

func (o *owner) cancelTimer() {
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
}

// publish updates the snapshot that Get and List read.
func (o *owner) publish(f func(*State)) {
	o.m.mu.Lock()
	f(&o.m.state)
	o.m.mu.Unlock()
}

// replyAll answers every Start waiting for the readiness verdict.
func (o *owner) replyAll(err error) {
	if len(o.waiters) == 0 {
		return
	}
	st := o.m.snapshot()
	for _, w := range o.waiters {
		w <- result{st, err}
	}
	o.waiters = nil
}
