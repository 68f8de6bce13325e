package supervisor

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestStopSendsSIGTERMAndWaits(t *testing.T) {
	h := newHarness(t, Options{})
	st, err := h.sup.Start(context.Background(), h.spec("vault", "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	h.waitLog("vault", "sleeping")
	got, ok, err := h.sup.Stop(context.Background(), "vault")
	if !ok || err != nil {
		t.Fatalf("Stop = %v, %v", ok, err)
	}
	// Stop returned only after the exit: the pid is gone now, not later.
	if err := unix.Kill(st.PID, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("child %d still exists after Stop returned (%v)", st.PID, err)
	}
	if got.Status != StatusStopped || got.PID != 0 || got.LastExitCode == nil || *got.LastExitCode != 0 {
		t.Errorf("state = %+v; want stopped, exit code 0", got)
	}
	if lines, _ := h.sup.Logs("vault", 0); !strings.Contains(strings.Join(lines, ""), "[vault] got SIGTERM") {
		t.Errorf("the child never saw SIGTERM: %q", lines)
	}
	// Not restarted.
	if st := h.state("vault"); st.Status != StatusStopped || len(h.spawned()) != 1 {
		t.Errorf("after stop: %+v with %d spawns", st, len(h.spawned()))
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	h := newHarness(t, Options{})
	spec := h.spec("vault", "sleep", "IGNORE_TERM=1")
	spec.Policy.StopGrace = 200 * time.Millisecond
	if _, err := h.sup.Start(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	h.waitLog("vault", "sleeping")
	st, _, err := h.sup.Stop(context.Background(), "vault")
	if err != nil || st.Status != StatusStopped || st.LastExitSignal != "SIGKILL" || st.LastExitCode != nil {
		t.Errorf("Stop = %+v, %v; want stopped by SIGKILL", st, err)
	}
	if !strings.Contains(h.logs.String(), "escalating to SIGKILL") {
		t.Errorf("no escalation line in the log")
	}
	if lines, _ := h.sup.Logs("vault", 0); !strings.Contains(strings.Join(lines, ""), "got SIGTERM (ignored)") {
		t.Errorf("SIGTERM was not sent first: %q", lines)
	}
}

func TestStopKillsGrandchildHoldingPort(t *testing.T) {
	for _, ignore := range []string{"", "1"} {
		t.Run("grandchild ignores SIGTERM="+strconv.Quote(ignore), func(t *testing.T) {
			h := newHarness(t, Options{})
			port := freePort(t)
			spec := h.spec("scribe", "grandchild", "PORT="+strconv.Itoa(port), "GC_IGNORE_TERM="+ignore)
			spec.Port = port
			spec.Policy.StopGrace = 300 * time.Millisecond
			if _, err := h.sup.Start(context.Background(), spec); err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.sup.Stop(context.Background(), "scribe"); err != nil {
				t.Fatal(err)
			}
			// The port is free the moment Stop returns.
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				t.Fatalf("port %d still held after Stop: %v", port, err)
			}
			ln.Close()
			// And the module can bind it again.
			st, err := h.sup.Start(context.Background(), spec)
			if err != nil || !st.Ready {
				t.Errorf("restart on the same port = %+v, %v", st, err)
			}
		})
	}
}

func TestStopUnknownAndIdle(t *testing.T) {
	h := newHarness(t, Options{})
	if st, ok, err := h.sup.Stop(context.Background(), "nope"); ok || err != nil || st.Short != "" {
		t.Errorf("Stop of a never-started module = %+v, %v, %v", st, ok, err)
	}
	h.sup.Start(context.Background(), Spec{Short: "gone", Argv: []string{"parachute-no-such-binary"}, Env: []string{}})
	// Stopping a crashed module sends nothing (there is no process) and says stopped.
	st, ok, err := h.sup.Stop(context.Background(), "gone")
	if !ok || err != nil || st.Status != StatusStopped {
		t.Errorf("Stop of a crashed module = %+v, %v, %v", st, ok, err)
	}
	// Twice is fine.
	if st, _, err := h.sup.Stop(context.Background(), "gone"); err != nil || st.Status != StatusStopped {
		t.Errorf("second Stop = %+v, %v", st, err)
	}
}

func TestRestart(t *testing.T) {
	h := newHarness(t, Options{})
	if _, err := h.sup.Restart(context.Background(), h.spec("vault", "sleep")); !errors.Is(err, ErrNotSupervised) {
		t.Errorf("Restart of a never-started module: %v, want ErrNotSupervised", err)
	}
	spec := h.spec("vault", "sleep", "GREETING=first")
	first, err := h.sup.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	// One crash, so there is a budget to reset.
	h.waitLog("vault", "sleeping")
	syscall.Kill(first.PID, syscall.SIGUSR1)
	crashed := h.waitState("vault", "respawned", func(s State) bool { return s.RestartsInWindow == 1 && s.Status == StatusRunning })

	// The new spec is used: the hub rebuilds it from disk for every restart.
	spec2 := h.spec("vault", "sleep", "GREETING=second")
	st, err := h.sup.Restart(context.Background(), spec2)
	if err != nil {
		t.Fatal(err)
	}
	if st.PID == crashed.PID || st.PID == 0 || st.Status != StatusRunning || st.RestartsInWindow != 0 || st.Restarts != 0 {
		t.Errorf("after Restart: %+v; want a new pid, running, budget reset", st)
	}
	h.waitLog("vault", "second")
	lines, _ := h.sup.Logs("vault", 0)
	if strings.Contains(strings.Join(lines, ""), "first") {
		t.Errorf("ring kept lines from before the restart: %q", lines)
	}
}

func TestShutdownStopsAllInParallel(t *testing.T) {
	h := newHarness(t, Options{})
	shorts := []string{"vault", "scribe", "channel"}
	for _, short := range shorts {
		// Each ignores SIGTERM with a grace longer than the shutdown deadline.
		spec := h.spec(short, "sleep", "IGNORE_TERM=1")
		spec.Policy.StopGrace = time.Minute
		if _, err := h.sup.Start(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		h.waitLog(short, "sleeping")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := h.sup.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v; want the deadline reported", err)
	}
	for _, short := range shorts {
		// Every child got SIGTERM before the deadline kill: they were stopped together,
		// not one after another.
		lines, _ := h.sup.Logs(short, 0)
		if !strings.Contains(strings.Join(lines, ""), "got SIGTERM (ignored)") {
			t.Errorf("%s was never sent SIGTERM: %q", short, lines)
		}
		if st := h.state(short); st.Status != StatusStopped || st.LastExitSignal != "SIGKILL" {
			t.Errorf("%s after Shutdown: %+v", short, st)
		}
	}
	for _, pid := range h.spawned() {
		if groupAlive(pid) {
			t.Errorf("group %d has live members after Shutdown returned", pid)
		}
	}
	if _, err := h.sup.Start(context.Background(), h.spec("vault", "sleep")); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Start after Shutdown: %v, want ErrShuttingDown", err)
	}
	if _, _, err := h.sup.Stop(context.Background(), "vault"); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Stop after Shutdown: %v, want ErrShuttingDown", err)
	}
}

func TestShutdownDuringStart(t *testing.T) {
	h := newHarness(t, Options{})
	spec := h.spec("vault", "sleep")
	spec.Port = freePort(t) // never bound: Start waits the whole window
	spec.Policy.ReadyTimeout = time.Minute
	errc := make(chan error, 1)
	go func() {
		_, err := h.sup.Start(context.Background(), spec)
		errc <- err
	}()
	<-h.spawn
	if err := h.sup.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrShuttingDown) {
		t.Errorf("pending Start returned %v, want ErrShuttingDown", err)
	}
}
