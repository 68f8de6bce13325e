package supervisor

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCgroupStopSignalsEachProcessOnce: with a cgroup, Stop sends exactly
// one SIGTERM to each of the module's processes: the leader, a member of
// its process group and a setsid escapee that only the cgroup reaches.
// Many runtimes read a second SIGTERM as "quit now" (node and bun
// frameworks, Python's second Ctrl-C, our own CLI), which would cut a
// graceful shutdown short.
//
// A SIGTERM sent while another is still pending merges into it, so the
// test lets each delivery land (the child has printed it) before the
// supervisor sends the next: signalSent holds the sender until then.
func TestCgroupStopSignalsEachProcessOnce(t *testing.T) {
	cg := testCgroups(t)
	t.Cleanup(func() { signalSent = nil }) // registered before the harness's: runs after its Shutdown
	h := newHarness(t, Options{Cgroups: cg})
	spec := h.spec("vault", "termcount", "KIDS=1")
	spec.Policy.StopGrace = 100 * time.Millisecond // SIGTERM never ends them; SIGKILL does
	st, err := h.sup.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{"leader": st.PID}
	for _, kind := range []string{"member", "escapee"} {
		h.waitLog("vault", "] "+kind+" ")
		pids[kind], _ = lastLogInt(h, "vault", kind)
	}
	for kind, pid := range pids {
		// Each has its SIGTERM handler installed once it says it is up.
		waitFor(t, 20*time.Second, kind+" up", func() bool {
			for _, l := range logLines(h, "vault") {
				if strings.TrimSpace(l) == "[vault] termcount up "+strconv.Itoa(pid) {
					return true
				}
			}
			return false
		})
	}
	if g, _ := readProc(pids["member"]); g.PGID != st.PID {
		t.Fatalf("member %d is in group %d, want the module's group %d", pids["member"], g.PGID, st.PID)
	}
	if g, _ := readProc(pids["escapee"]); g.PGID == st.PID {
		t.Fatalf("escapee %d is still in the module's group %d", pids["escapee"], st.PID)
	}

	sent := map[int]int{} // SIGTERMs the supervisor sent, per pid; only the owner goroutine writes it during Stop
	signalSent = func(target int, sig syscall.Signal) {
		if sig != syscall.SIGTERM {
			return
		}
		for kind, pid := range pids {
			if g, err := readProc(pid); pid != target && (err != nil || target >= 0 || g.PGID != -target) {
				continue
			}
			sent[pid]++
			deadline := time.Now().Add(20 * time.Second)
			for seen(h, pid) < sent[pid] {
				if time.Now().After(deadline) {
					t.Errorf("%s (pid %d) never reported SIGTERM #%d", kind, pid, sent[pid])
					return
				}
				time.Sleep(time.Millisecond) // polling interval, not synchronisation
			}
		}
	}
	if _, _, err := h.sup.Stop(context.Background(), "vault"); err != nil {
		t.Fatal(err)
	}
	for kind, pid := range pids {
		if got := seen(h, pid); got != 1 || sent[pid] != 1 {
			t.Errorf("%s (pid %d) received %d SIGTERMs (supervisor sent %d), want exactly 1", kind, pid, got, sent[pid])
		}
		if alivePID(pid) {
			t.Errorf("%s (pid %d) survived Stop", kind, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// seen is how many SIGTERMs the termcount child pid has reported.
func seen(h *harness, pid int) int {
	n, _ := lastLogInt(h, "vault", "sigterm "+strconv.Itoa(pid))
	return n
}

func logLines(h *harness, short string) []string {
	lines, _ := h.sup.Logs(short, 0)
	return lines
}

// lastLogInt finds the newest line "[short] <prefix> <n>" and returns n.
func lastLogInt(h *harness, short, prefix string) (int, bool) {
	lines := logLines(h, short)
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(lines[i], "["+short+"] "+prefix+" "); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}
