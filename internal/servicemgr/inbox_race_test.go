package servicemgr

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// raceRuns is how many failing starts each side of outputRace makes.
const raceRuns = 20

func boxOutputRace(t *testing.T) {
	outputRace(t, KindSystemdSystem, "/run/sm-race-n", func(wait time.Duration) *Systemd {
		return NewSystemd(SystemdOptions{OutputWait: wait})
	})
}

// outputRace starts a unit whose process writes one numbered line to stderr
// and exits at once, raceRuns times without waiting for its output (the old
// behaviour: the tail is read as soon as the job fails) and raceRuns times
// with the wait. journald reads the process's stream and systemd's
// notifications through different sockets, so without the wait the tail
// often lacks the line; with it, the tail must always hold it. The number
// (written to counter before each start) tells this run's line from the
// previous runs' lines.
func outputRace(t *testing.T, kind Kind, counter string, mgr func(wait time.Duration) *Systemd) {
	home, _ := os.UserHomeDir()
	name := "sm-race.service"
	// $$ is systemd's escape for a literal $; read is a shell builtin, so
	// the process forks nothing before its line.
	script := "read n < " + counter + `; echo "sm-race run $$n failed" >&2; exit 3`
	u := Unit{Name: name, Path: UnitPath(kind, home, name),
		Content: unitText("notify", `/bin/sh -c '`+script+`'`, "")}
	if _, err := installed(t, mgr(-1), u, false); err != nil {
		t.Fatalf("Install: %v", err)
	}
	t.Cleanup(func() { os.Remove(counter) })
	run := 0
	misses := func(m *Systemd) (missed int, slowest time.Duration) {
		for range raceRuns {
			run++
			if err := os.WriteFile(counter, []byte(strconv.Itoa(run)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := m.Start(testCtx(t), name)
			slowest = max(slowest, time.Since(start))
			var je *JobError
			if !errors.As(err, &je) || je.UnitResult != "exit-code" {
				t.Fatalf("start %d of a failing unit = %v, want an exit-code JobError", run, err)
			}
			want := "sm-race run " + strconv.Itoa(run) + " failed"
			if !strings.Contains(strings.Join(je.JournalTail, "\n"), want) {
				missed++
				t.Logf("run %d: tail lacks %q: %q", run, want, je.JournalTail)
			}
		}
		return missed, slowest
	}
	oldMissed, oldSlowest := misses(mgr(-1))
	newMissed, newSlowest := misses(mgr(0))
	t.Logf("%s: tail lacked the process's line in %d/%d starts without the wait (slowest %s), %d/%d with it (slowest %s)",
		kind, oldMissed, raceRuns, oldSlowest, newMissed, raceRuns, newSlowest)
	if newMissed > 0 {
		t.Errorf("with the wait, %d/%d failure tails lack the failed process's own line", newMissed, raceRuns)
	}
	// The process always writes its line, so the wait must end when the
	// line arrives, never at the deadline.
	if newSlowest >= DefaultOutputWait {
		t.Errorf("slowest failing start took %s: the wait ran to its deadline although the line was there", newSlowest)
	}
	// JournalTail (hubsvc, doctor) waits the same way for a failed unit.
	lines, err := mgr(0).JournalTail(testCtx(t), name, 5)
	if err != nil || !strings.Contains(strings.Join(lines, "\n"), "sm-race run "+strconv.Itoa(run)+" failed") {
		t.Errorf("JournalTail of the failed unit = %q, %v", lines, err)
	}
}
