package supervisor

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoffSequence(t *testing.T) {
	p := DefaultPolicy()
	want := []time.Duration{
		0, // the first crash of a streak restarts at once
		500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 30 * time.Second, 30 * time.Second,
	}
	var got []time.Duration
	for n := 1; n <= len(want); n++ {
		got = append(got, p.Backoff(n))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Backoff(1..%d) (-want +got):\n%s", len(want), diff)
	}
	if d := (Policy{BackoffMin: time.Second, BackoffMax: time.Hour}).Backoff(1000); d != time.Hour {
		t.Errorf("Backoff(1000) = %v, want the cap", d)
	}
}

func TestPolicyDefaults(t *testing.T) {
	got := Policy{MaxCrashes: 2, BackoffMin: time.Minute}.withDefaults()
	want := DefaultPolicy()
	want.MaxCrashes, want.BackoffMin, want.BackoffMax = 2, time.Minute, time.Minute
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("withDefaults (-want +got):\n%s", diff)
	}
}

func TestCrashRespawns(t *testing.T) {
	for _, code := range []string{"1", "0"} { // exit 0 without a stop request is a crash too
		t.Run("exit "+code, func(t *testing.T) {
			h := newHarness(t, Options{})
			spec := h.spec("vault", "sleep", "CODE="+code)
			st, err := h.sup.Start(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			h.waitLog("vault", "sleeping")
			syscall.Kill(st.PID, syscall.SIGUSR1) // the child exits CODE
			st2 := h.waitState("vault", "a respawn", func(s State) bool { return s.Status == StatusRunning && s.PID != st.PID && s.PID != 0 })
			if st2.Restarts != 1 || st2.RestartsInWindow != 1 || st2.LastExitCode == nil || *st2.LastExitCode != atoi(code) || st2.LastCrashAt == nil {
				t.Errorf("state after respawn = %+v; want restarts 1, 1 crash in window, exit code %s", st2, code)
			}
			// The ring survives the respawn: lines from both runs are there.
			var all string
			waitFor(t, 20*time.Second, "the second child's first line", func() bool {
				lines, _ := h.sup.Logs("vault", 0)
				all = strings.Join(lines, "")
				return strings.Count(all, "[vault] sleeping") == 2
			})
			if !strings.Contains(all, "got SIGUSR1") || !strings.Contains(all, "restart now") {
				t.Errorf("ring after respawn:\n%s", all)
			}
		})
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestCrashBudgetGivesUp(t *testing.T) {
	h := newHarness(t, Options{})
	spec := h.spec("vault", "exit", "CODE=1")
	spec.Policy.MaxCrashes = 2 // the third crash inside the window gives up
	h.sup.Start(context.Background(), spec)
	st := h.waitState("vault", "crashed", func(s State) bool { return s.Status == StatusCrashed })
	if st.RestartsInWindow != 3 || st.Restarts != 2 || st.NextRestartAt != nil || st.PID != 0 {
		t.Errorf("state = %+v; want 3 crashes in window, 2 restarts, nothing pending", st)
	}
	if n := len(h.spawned()); n != 3 {
		t.Errorf("%d spawns, want 3", n)
	}
	if !strings.Contains(h.logs.String(), "giving up") {
		t.Errorf("no 'giving up' line in the log:\n%s", h.logs.String())
	}
	// An explicit start resets the budget.
	spec.Env = append(spec.Env, childModeEnv+"=sleep")
	st, err := h.sup.Start(context.Background(), spec)
	if err != nil || st.Status != StatusRunning || st.RestartsInWindow != 0 || st.Restarts != 0 {
		t.Errorf("explicit start after giving up = %+v, %v; want running with a fresh budget", st, err)
	}
}

// TestCrashPolicySequence steps a module through crashes with a fake clock:
// the first crash of a streak restarting at once, backoff doubling from the
// second, the sliding window, the reset after a long run, giving up, and an
// explicit start. The child crashes when sent SIGUSR1.
func TestCrashPolicySequence(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, Options{Clock: clock})
	spec := h.spec("vault", "sleep", "CODE=1")
	spec.Policy = Policy{MaxCrashes: 3, Window: 60 * time.Second, BackoffMin: 500 * time.Millisecond,
		BackoffMax: 4 * time.Second, ResetAfter: 30 * time.Second, StopGrace: 5 * time.Second}

	type step struct {
		name       string
		advance    time.Duration // fake time the child runs before crashing
		wantStatus Status        // right after the crash; running = respawned at once
		wantDelay  time.Duration // NextRestartAt - crash time
		wantWindow int
	}
	steps := []step{
		{"first crash restarts at once", 0, StatusRunning, 0, 1},
		{"second crash waits BackoffMin", 0, StatusRestarting, 500 * time.Millisecond, 2},
		{"third doubles", 0, StatusRestarting, time.Second, 3},
		{"crash after a long run restarts at once", 70 * time.Second, StatusRunning, 0, 1}, // ran ≥ ResetAfter: fresh
		{"fifth", 0, StatusRestarting, 500 * time.Millisecond, 2},
		{"sixth", 0, StatusRestarting, time.Second, 3},
		{"seventh gives up", 0, StatusCrashed, 0, 4},
	}
	st, err := h.sup.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		// Crash the child only once it is up (has printed its line).
		waitFor(t, 20*time.Second, "child up", func() bool {
			lines, _ := h.sup.Logs("vault", 0)
			return strings.Count(strings.Join(lines, ""), "[vault] sleeping") == i+1
		})
		clock.Advance(s.advance)
		timers := clock.created()
		crashAt := clock.Now()
		syscall.Kill(st.PID, syscall.SIGUSR1)
		if s.wantStatus == StatusRunning {
			// Respawned without the clock moving: no timer was waited on.
			old := st.PID
			st = h.waitState("vault", s.name, func(x State) bool {
				return x.Status == StatusRunning && x.PID != 0 && x.PID != old && x.RestartsInWindow == s.wantWindow
			})
			if n := clock.created(); n != timers {
				t.Fatalf("step %d (%s): %d timer(s) armed for an immediate restart", i, s.name, n-timers)
			}
			if st.Restarts != i+1 || st.LastCrashAt == nil || !st.LastCrashAt.Equal(crashAt) || !st.StartedAt.Equal(crashAt) || st.NextRestartAt != nil {
				t.Fatalf("step %d (%s): state %+v; want restart %d started at the crash instant %v", i, s.name, st, i+1, crashAt)
			}
			continue
		}
		want := s.wantStatus
		got := h.waitState("vault", s.name, func(x State) bool { return x.Status == want && x.RestartsInWindow == s.wantWindow })
		var delay time.Duration
		if got.NextRestartAt != nil {
			delay = got.NextRestartAt.Sub(*got.LastCrashAt)
		}
		if delay != s.wantDelay {
			t.Fatalf("step %d (%s): delay %v, want %v (state %+v)", i, s.name, delay, s.wantDelay, got)
		}
		if s.wantStatus == StatusCrashed {
			break
		}
		// Nothing is spawned before the delay has passed.
		spawns := len(h.spawned())
		clock.Advance(s.wantDelay - time.Millisecond)
		if n := len(h.spawned()); n != spawns || h.state("vault").Status != StatusRestarting {
			t.Fatalf("step %d (%s): respawned %v before the backoff ended", i, s.name, time.Millisecond)
		}
		// Let the backoff pass; the owner respawns.
		clock.Advance(time.Millisecond)
		st = h.waitState("vault", "respawn after "+s.name, func(x State) bool { return x.Status == StatusRunning && x.PID != 0 })
		if st.Restarts != i+1 {
			t.Fatalf("step %d: Restarts = %d, want %d", i, st.Restarts, i+1)
		}
	}
	// Nothing happens however far the clock moves.
	clock.Advance(time.Hour)
	if st := h.state("vault"); st.Status != StatusCrashed || len(h.spawned()) != len(steps) {
		t.Errorf("after giving up: %+v, %d spawns; want crashed, %d spawns", st, len(h.spawned()), len(steps))
	}
}

func TestStartDuringBackoffReplacesThePendingRestart(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, Options{Clock: clock})
	spec := h.spec("vault", "exit", "CODE=1")
	h.sup.Start(context.Background(), spec)
	// The first crash respawns at once; the second waits on the timer.
	h.waitState("vault", "restarting", func(s State) bool { return s.Status == StatusRestarting && s.RestartsInWindow == 2 })
	// An explicit start while the respawn timer is pending: exactly one new child.
	spec.Env = append(spec.Env, childModeEnv+"=sleep")
	st, err := h.sup.Start(context.Background(), spec)
	if err != nil || st.Status != StatusRunning {
		t.Fatalf("Start during backoff = %+v, %v", st, err)
	}
	clock.Advance(time.Hour) // the old timer must not fire a second spawn
	if n := len(h.spawned()); n != 3 {
		t.Errorf("%d spawns, want 3", n)
	}
	if st := h.state("vault"); st.PID != h.spawned()[2] || st.Status != StatusRunning {
		t.Errorf("state = %+v", st)
	}
}

func TestStopDuringBackoffCancelsRestart(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, Options{Clock: clock})
	h.sup.Start(context.Background(), h.spec("vault", "exit", "CODE=1"))
	h.waitState("vault", "restarting", func(s State) bool { return s.Status == StatusRestarting && s.RestartsInWindow == 2 })
	st, ok, err := h.sup.Stop(context.Background(), "vault")
	if !ok || err != nil || st.Status != StatusStopped || st.NextRestartAt != nil {
		t.Fatalf("Stop = %+v, %v, %v; want stopped with no restart pending", st, ok, err)
	}
	clock.Advance(time.Hour)
	if n := len(h.spawned()); n != 2 {
		t.Errorf("%d spawns after a stop during backoff, want 2", n)
	}
}
