//go:build linux

package reaper

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a PID 1 stand-in: a child
// subreaper (orphans of its descendants are handed to it, as to a PID 1)
// that runs Run and exits with its code.
const helperEnv = "PARACHUTE_REAPER_TEST_HELPER"

func TestMain(m *testing.M) {
	if script := os.Getenv(helperEnv); script != "" {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "prctl:", err)
			os.Exit(100)
		}
		code, err := Run("/bin/sh", []string{"sh", "-c", script})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// startHelper runs the test binary as the reaper of script and returns it
// with the first line script prints.
func startHelper(t *testing.T, script string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+script)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the helper's first line: %v", err)
	}
	return cmd, strings.TrimSpace(line)
}

// TestReapsOrphans: a grandchild orphaned by the hub (here: a shell whose
// subshell backgrounds a process and exits) is reaped by Run, not left a
// zombie; then SIGTERM to the reaper reaches the hub, and the reaper exits
// with the hub's status (143 = killed by SIGTERM).
func TestReapsOrphans(t *testing.T) {
	// The grandchild prints its pid and exits at once; the shell then
	// blocks reading stdin until the test ends it with SIGTERM.
	cmd, line := startHelper(t, `(sh -c 'echo $$' &); read x`)
	gpid, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("grandchild pid %q: %v", line, err)
	}
	// Reaped means /proc/<pid> is gone; a zombie keeps it (state Z).
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", gpid))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d not reaped: %s", gpid, st)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Fatalf("reaper exit = %v, want code 143 (the shell killed by the forwarded SIGTERM)", err)
	}
}

// TestExitCode: the reaper exits with its child's exit code.
func TestExitCode(t *testing.T) {
	cmd, line := startHelper(t, `echo started; exit 7`)
	if line != "started" {
		t.Fatalf("first line %q", line)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("reaper exit = %v, want 7", err)
	}
}

func TestShouldRun(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	cases := []struct {
		name string
		pid  int
		args []string
		env  string
		want bool
	}{
		{"pid 1 serve", 1, []string{"serve"}, "", true},
		{"pid 1 serve, turned off", 1, []string{"serve"}, "1", false},
		{"pid 1 other verb", 1, []string{"health"}, "", false},
		{"pid 1 no verb", 1, nil, "", false},
		{"not pid 1", 42, []string{"serve"}, "", false},
	}
	for _, c := range cases {
		if got := ShouldRun(c.pid, c.args, env(c.env)); got != c.want {
			t.Errorf("%s: ShouldRun = %v", c.name, got)
		}
	}
}
