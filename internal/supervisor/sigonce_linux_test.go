package supervisor

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCgroupSignalsEachProcessOnce: with a cgroup, ending a module sends
// exactly one SIGTERM to each of its processes: the leader, a member of its
// process group and a setsid escapee that only the cgroup reaches, both on
// Stop and after the leader exited on its own (the zombie leader gets
// none). Many runtimes read a second SIGTERM as "quit now" (node and bun
// frameworks, Python's second Ctrl-C, our own CLI), which would cut a
// graceful shutdown short.
//
// A SIGTERM sent while another is still pending merges into it, so the
// test lets each delivery land (the child has printed it) before the
// supervisor sends the next: signalSent holds the sender until then.
func TestCgroupSignalsEachProcessOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, h *harness, leader int)
		want map[string]int
	}{{
		name: "stop",
		end: func(t *testing.T, h *harness, _ int) {
			if _, _, err := h.sup.Stop(context.Background(), "vault"); err != nil {
				t.Fatal(err)
			}
		},
		want: map[string]int{"leader": 1, "member": 1, "escapee": 1},
	}, {
		name: "leader exited",
		end: func(t *testing.T, h *harness, leader int) {
			if err := syscall.Kill(leader, syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			h.waitLog("vault", "restart now") // noted once finish has ended the rest
		},
		want: map[string]int{"leader": 0, "member": 1, "escapee": 1},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cg := testCgroups(t)
			var (
				mu   sync.Mutex      // guards pids and sent: the owner goroutine sends while the test reads
				pids map[string]int  // by kind; nil until all three are up
				sent = map[int]int{} // SIGTERMs sent per pid
			)
			t.Cleanup(func() { signalSent = nil }) // registered before the harness's: runs after its Shutdown
			h := newHarness(t, Options{Cgroups: cg})
			// Set before Start, whose request orders it before any send.
			signalSent = func(target int, sig syscall.Signal) {
				mu.Lock()
				defer mu.Unlock()
				if sig != syscall.SIGTERM {
					return
				}
				for kind, pid := range pids {
					p, err := readProc(pid)
					if err != nil || p.Zombie || (pid != target && (target >= 0 || p.PGID != -target)) {
						continue // not a live target of this send
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
			spec := h.spec("vault", "termcount", "KIDS=1")
			spec.Policy.StopGrace = 100 * time.Millisecond // SIGTERM never ends them; SIGKILL does
			st, err := h.sup.Start(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			up := termcountPIDs(t, h, st.PID)
			mu.Lock()
			pids = up
			mu.Unlock()

			tc.end(t, h, st.PID)
			mu.Lock()
			defer mu.Unlock()
			for kind, pid := range pids {
				if got := seen(h, pid); got != tc.want[kind] || sent[pid] != tc.want[kind] {
					t.Errorf("%s (pid %d) received %d SIGTERMs (supervisor sent %d), want %d", kind, pid, got, sent[pid], tc.want[kind])
				}
				if alivePID(pid) {
					t.Errorf("%s (pid %d) survived", kind, pid)
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		})
	}
}

// termcountPIDs waits until the termcount leader and its two kids have
// their SIGTERM handlers installed and returns their pids by kind.
func termcountPIDs(t *testing.T, h *harness, leader int) map[string]int {
	t.Helper()
	pids := map[string]int{"leader": leader}
	for _, kind := range []string{"member", "escapee"} {
		h.waitLog("vault", "] "+kind+" ")
		pids[kind], _ = lastLogInt(h, "vault", kind)
	}
	for kind, pid := range pids {
		waitFor(t, 20*time.Second, kind+" up", func() bool {
			for _, l := range logLines(h, "vault") {
				if strings.TrimSpace(l) == "[vault] termcount up "+strconv.Itoa(pid) {
					return true
				}
			}
			return false
		})
	}
	if g, _ := readProc(pids["member"]); g.PGID != leader {
		t.Fatalf("member %d is in group %d, want the module's group %d", pids["member"], g.PGID, leader)
	}
	if g, _ := readProc(pids["escapee"]); g.PGID == leader {
		t.Fatalf("escapee %d is still in the module's group %d", pids["escapee"], leader)
	}
	return pids
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
