package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logsRuns is how many failing starts logsHubScenario makes: journald files
// a dying process's line under no unit only some of the time (the old
// `parachute logs hub` missed it in about 1 run of 6 in the box).
const logsRuns = 20

// logsHubScenario installs the hub as a user unit, then replaces its binary
// with one that prints a numbered line and exits 3, and starts it logsRuns
// times. After each failure `parachute logs hub` (the unit waiting to
// restart) and, once the unit is stopped, the first screen of `parachute
// logs hub -f` must show that run's line: journald often stores
// the output of a process that exits at once without the unit's field, and
// `journalctl --user-unit` alone (what logs hub ran before) misses it.
func logsHubScenario(t *testing.T, s *scope, binDir string) {
	counter := filepath.Join(binDir, "run")
	installBroken(t, s, binDir, "#!/bin/sh\nread n < "+counter+"\necho \"parachute: simulated broken build, run $n\" >&2\nexit 3\n")
	missed := 0
	for run := 1; run <= logsRuns; run++ {
		if err := os.WriteFile(counter, []byte(strconv.Itoa(run)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Start each run afresh: no pending auto-restart, no start limit.
		s.systemctl("stop", "parachute-hub.service")
		s.systemctl("reset-failed", "parachute-hub.service")
		if out, code := s.run("start"); code == 0 {
			t.Fatalf("run %d: start with a failing ExecStart exited 0:\n%s", run, out)
		}
		want := fmt.Sprintf("simulated broken build, run %d", run)
		out, code := s.run("logs", "hub", "-n", "30")
		if code != 0 || !strings.Contains(out, want) {
			missed++
			t.Errorf("run %d: `parachute logs hub -n 30` (exit %d) lacks %q:\n%s", run, code, want, out)
		}
		// Stopped, the unit cannot rerun the script (auto-restart) and log
		// the line again: only the first screen of -f can show it.
		s.systemctl("stop", "parachute-hub.service")
		if out, err := s.followUntil(want); err != nil {
			t.Errorf("run %d: `parachute logs hub -f`: %v\n%s", run, err, out)
		}
	}
	t.Logf("`parachute logs hub` lacked the failed run's line in %d/%d runs", missed, logsRuns)
	s.must("migrate", "--teardown")
}

// followUntil runs `parachute logs hub -f` until a line of its stdout holds
// want (or 20 s pass), then ends it with SIGTERM, as Ctrl-C would.
func (s *scope) followUntil(want string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := s.command(ctx, parachuteBin, "logs", "hub", "-f", "-n", "30")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	found := make(chan struct{})
	done := make(chan string, 1)
	go func() {
		var seen strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), want) {
				close(found)
				break
			}
		}
		done <- seen.String()
	}()
	var res error
	select {
	case <-found:
	case <-time.After(20 * time.Second):
		res = fmt.Errorf("no %q within 20 s", want)
	}
	seen := ""
	if res == nil {
		seen = <-done // read all it needs: Wait may close the pipe
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if res != nil {
		seen = <-done
	}
	if res == nil && err != nil {
		res = fmt.Errorf("ended by SIGTERM: %w (stderr %q)", err, stderr.String())
	}
	return seen + stderr.String(), res
}
