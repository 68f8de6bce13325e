package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"

	"golang.org/x/sys/unix"
)

// harness is a Supervisor under test. At cleanup it shuts the supervisor
// down and proves that no process group it spawned has a member left and
// that no supervisor or logsink goroutine is still running.
type harness struct {
	t    *testing.T
	sup  *Supervisor
	out  *testenv.SyncBuffer // hub stdout
	logs *testenv.SyncBuffer // the supervisor's own log

	mu    sync.Mutex
	pids  []int
	exe   string
	spawn chan int
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, out: &testenv.SyncBuffer{}, logs: &testenv.SyncBuffer{}, exe: exe, spawn: make(chan int, 100)}
	if opts.Output == nil {
		opts.Output = h.out
	}
	opts.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.sup = New(opts)
	h.sup.onSpawn = func(pid int) {
		h.mu.Lock()
		h.pids = append(h.pids, pid)
		h.mu.Unlock()
		h.spawn <- pid
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.sup.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for _, pid := range h.spawned() {
			assertGroupGone(t, pid)
		}
		// The spawner thread lives as long as the process, by design.
		testenv.CheckGoroutines(t, "spawnLoop")
		if t.Failed() {
			t.Logf("supervisor log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) spawned() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.pids...)
}

// spec is a Spec running the test binary in mode with extra environment.
func (h *harness) spec(short, mode string, env ...string) Spec {
	return Spec{
		Short: short,
		Argv:  []string{h.exe},
		// GORACE: a race-enabled child otherwise sleeps 1s at exit.
		Env:    append(append(os.Environ(), childModeEnv+"="+mode, "GORACE=atexit_sleep_ms=0"), env...),
		Policy: Policy{StopGrace: 5 * time.Second, ReadyTimeout: 5 * time.Second, BackoffMin: time.Millisecond},
	}
}

func (h *harness) state(short string) State {
	h.t.Helper()
	st, ok := h.sup.Get(short)
	if !ok {
		h.t.Fatalf("Get(%q): not supervised", short)
	}
	return st
}

// waitState polls until cond holds for the module's state.
func (h *harness) waitState(short, what string, cond func(State) bool) State {
	h.t.Helper()
	var st State
	waitFor(h.t, 20*time.Second, what, func() bool {
		st, _ = h.sup.Get(short)
		return cond(st)
	})
	return st
}

// waitLog polls until the module's ring holds a line containing s.
func (h *harness) waitLog(short, s string) {
	h.t.Helper()
	waitFor(h.t, 20*time.Second, fmt.Sprintf("log line %q from %s", s, short), func() bool {
		lines, _ := h.sup.Logs(short, 0)
		return strings.Contains(strings.Join(lines, ""), s)
	})
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for interval := time.Millisecond; !cond(); interval = min(interval*2, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(interval) // polling interval, not synchronisation
	}
}

// assertGroupGone waits until kill(-pgid, 0) says ESRCH. Orphaned members
// are reaped by PID 1, which on some machines takes a second or two.
func assertGroupGone(t testing.TB, pgid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := unix.Kill(-pgid, 0)
		if errors.Is(err, unix.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			members, _ := groupMembers(pgid)
			t.Errorf("process group %d still exists (kill: %v; live members: %v)", pgid, err, members)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a port that was free a moment ago.
var freePort = testenv.FreePort

// fakeClock is a Clock whose time moves only when the test says so.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer // every timer ever armed
}

type fakeTimer struct {
	c    chan time.Time
	at   time.Time
	done bool
	fc   *fakeClock
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: c.now.Add(d), fc: c}
	c.timers = append(c.timers, t)
	c.fireLocked()
	return t
}

// created counts the timers armed so far.
func (c *fakeClock) created() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves time forward and fires the timers that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fireLocked()
}

func (c *fakeClock) fireLocked() {
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			t.c <- c.now
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.fc.mu.Lock()
	defer t.fc.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}
