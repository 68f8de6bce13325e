package migrate

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listenerEnv makes the test binary a listener instead of running tests
// (TestMain): it listens on 127.0.0.1:0, prints the port, and exits when
// its stdin closes or a signal kills it.
const listenerEnv = "MIGRATE_TEST_LISTENER"

func TestMain(m *testing.M) {
	if os.Getenv(listenerEnv) != "" {
		os.Exit(runListener())
	}
	os.Exit(m.Run())
}

func runListener() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// listener is a child process holding a port, as a legacy module would.
type listener struct {
	cmd  *exec.Cmd
	port int
	done chan struct{} // closed once the child is reaped
}

// startListener runs the test binary as a listener; extra are arguments
// it ignores (they only show in its command line).
func startListener(t *testing.T, extra ...string) *listener {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, extra...)...)
	cmd.Env = append(os.Environ(), listenerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &listener{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(l.done) }()
	t.Cleanup(func() {
		stdin.Close() // the listener exits at EOF
		<-l.done
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listener's port: %v", err)
	}
	if l.port, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		t.Fatalf("listener port %q: %v", line, err)
	}
	return l
}

// TestSweepOrphans checks the cutover's step 3 against real processes
// holding real ports: a process the cutover stopped by pidfile, or whose
// command line names parachute, is stopped; any other is left alone.
func TestSweepOrphans(t *testing.T) {
	tests := []struct {
		name     string
		extra    []string
		owned    bool
		wantStop bool
		wantLog  string
	}{
		{name: "an unrelated process is left alone", wantLog: "held by an unrelated process"},
		{name: "a legacy pid is stopped", owned: true, wantStop: true, wantLog: "orphan on port"},
		{name: "a parachute command line is stopped", extra: []string{"parachute-vault"}, wantStop: true, wantLog: "orphan on port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startListener(t, tc.extra...)
			var log strings.Builder
			c := &Cutover{Grace: 10 * time.Second, Logf: func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) }}
			owned := map[int]bool{}
			if tc.owned {
				owned[l.cmd.Process.Pid] = true
			}
			if err := c.sweepOrphans([]declaredPort{{port: l.port, label: "echo"}}, owned); err != nil {
				t.Fatalf("sweepOrphans: %v", err)
			}
			// stopProc returns once its target is dead or a zombie, so
			// alive is settled here.
			if stopped := !alive(l.cmd.Process.Pid); stopped != tc.wantStop {
				t.Errorf("listener stopped = %v, want %v", stopped, tc.wantStop)
			}
			if !strings.Contains(log.String(), tc.wantLog) {
				t.Errorf("log %q lacks %q", log.String(), tc.wantLog)
			}
		})
	}
}
