package servicemgr

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// logsRuns is how many failing starts failedLogs makes.
const logsRuns = 10

// failedLogs is what `parachute logs hub` shows for a hub unit that dies at
// once: a unit whose process writes one numbered line and exits 3 is
// started logsRuns times; after each failure the plain tail (JournalTail)
// and the first screen of FollowJournal must both hold the run's line. The
// command `parachute logs hub` ran before it used them (journalctl
// --user-unit/-u, -o short-iso) is run too, after them, so the line has
// surely reached the journal: it misses the line whenever journald filed it
// under no unit, which the log shows.
func failedLogs(t *testing.T, kind Kind, counter string, m *Systemd) {
	home, _ := os.UserHomeDir()
	name := "sm-logs.service"
	script := "read n < " + counter + `; echo "sm-logs run $$n failed" >&2; exit 3`
	u := Unit{Name: name, Path: UnitPath(kind, home, name),
		Content: unitText("notify", `/bin/sh -c '`+script+`'`, "")}
	if _, err := installed(t, m, u, false); err != nil {
		t.Fatalf("Install: %v", err)
	}
	t.Cleanup(func() { os.Remove(counter) })
	oldArgs := []string{"-u", name, "-n", "20", "--no-pager", "-o", "short-iso"}
	if kind == KindSystemdUser {
		oldArgs[0] = "--user-unit"
	}
	oldMissed := 0
	for run := 1; run <= logsRuns; run++ {
		if err := os.WriteFile(counter, []byte(strconv.Itoa(run)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var je *JobError
		if err := m.Start(testCtx(t), name); !errors.As(err, &je) {
			t.Fatalf("start %d of a failing unit = %v, want a JobError", run, err)
		}
		want := "sm-logs run " + strconv.Itoa(run) + " failed"
		lines, err := m.JournalTail(testCtx(t), name, 20)
		if err != nil || !strings.Contains(strings.Join(lines, "\n"), want) {
			t.Errorf("run %d: JournalTail = %q, %v; want a line %q", run, lines, err, want)
		}
		if screen := followUntil(t, m, name, want, 1, nil); !strings.Contains(screen, want) {
			t.Errorf("run %d: FollowJournal's first screen lacks %q:\n%s", run, want, screen)
		}
		out, _, code, err := ExecRunner(testCtx(t), "journalctl", oldArgs...)
		if err != nil || code != 0 {
			t.Fatalf("journalctl %s: exit %d, %v", strings.Join(oldArgs, " "), code, err)
		}
		if !strings.Contains(out, want) {
			oldMissed++
			t.Logf("run %d: `journalctl %s` (the old `parachute logs hub`) lacks %q", run, strings.Join(oldArgs, " "), want)
		}
	}
	t.Logf("%s: the old `parachute logs hub` lacked the failed process's line in %d/%d runs; JournalTail and FollowJournal had it in all",
		kind, oldMissed, logsRuns)
}

// followKeepsGoing checks that FollowJournal follows after its first
// screen, without repeating a line: a running unit that logs "notifyd
// ready" at each start is restarted once the first screen shows the line,
// and the follow must then show it exactly once more.
func followKeepsGoing(t *testing.T, kind Kind, m *Systemd) {
	home, _ := os.UserHomeDir()
	name := "sm-follow.service"
	u := Unit{Name: name, Path: UnitPath(kind, home, name), Content: notifyd("")}
	if _, err := installed(t, m, u, true); err != nil {
		t.Fatalf("Install: %v", err)
	}
	eventually(t, "journal of "+name, journalHas(m, name, "notifyd ready"))
	restart := func() {
		if err := m.Restart(testCtx(t), name); err != nil {
			t.Errorf("Restart: %v", err)
		}
	}
	out := followUntil(t, m, name, "notifyd ready", 2, restart)
	if got := strings.Count(out, "notifyd ready"); got != 2 {
		t.Errorf("follow across one restart shows %d \"notifyd ready\" lines, want 2:\n%s", got, out)
	}
}

// followUntil runs FollowJournal (first screen of 20 lines) until its
// output holds count copies of want, calling onFirst (if not nil, in its
// own goroutine) once the first copy shows. It fails the test if that takes
// more than 20 s, and returns the output.
func followUntil(t *testing.T, m *Systemd, name, want string, count int, onFirst func()) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := &watchWriter{want: want, count: count, done: cancel}
	var wg sync.WaitGroup
	if onFirst != nil {
		w.first = func() { wg.Add(1); go func() { defer wg.Done(); onFirst() }() }
	}
	err := m.FollowJournal(ctx, name, 20, w)
	wg.Wait()
	out, reached := w.result()
	if err != nil {
		t.Errorf("FollowJournal: %v", err)
	}
	if !reached {
		t.Errorf("FollowJournal did not show %d× %q within 20 s:\n%s", count, want, out)
	}
	return out
}

// watchWriter collects what FollowJournal writes and ends the follow (done)
// once it holds count copies of want.
type watchWriter struct {
	want    string
	count   int
	done    func()
	first   func()
	mu      sync.Mutex
	buf     bytes.Buffer
	reached bool
	fired   bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	seen := strings.Count(w.buf.String(), w.want)
	if seen >= 1 && !w.fired && w.first != nil {
		w.fired = true
		w.first()
	}
	if seen >= w.count && !w.reached {
		w.reached = true
		w.done()
	}
	return len(p), nil
}

func (w *watchWriter) result() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.reached
}
