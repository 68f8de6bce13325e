package supervisor

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startGroup starts the test binary in mode as the leader of a new process
// group, the way a previous hub would have, and returns it with a reader of
// its stdout. Cleanup kills whatever is left of the group.
func startGroup(t *testing.T, mode string, env ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	exe, _ := os.Executable()
	cmd := exec.Command(exe)
	cmd.Env = append(append(os.Environ(), childModeEnv+"="+mode, "GORACE=atexit_sleep_ms=0"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	pgid := cmd.Process.Pid
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		unix.Kill(-pgid, unix.SIGKILL)
		<-waited
		r.Close()
		assertGroupGone(t, pgid)
	})
	return cmd, bufio.NewReader(r)
}

func writeTestRecord(t *testing.T, dir string, rec childRecord) string {
	t.Helper()
	path := filepath.Join(dir, "vault"+recordExt)
	if err := writeRecord(path, rec); err != nil {
		t.Fatal(err)
	}
	return path
}

// recordFor describes pid as the child of a hub that is gone: same pid as
// this process but another start time, as when a container restarts.
func recordFor(t *testing.T, pid int) childRecord {
	t.Helper()
	st, err := readProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	return childRecord{PID: pid, PGID: pid, StartTimeTicks: st.Start, SID: st.SID, Argv: []string{"vault"},
		HubPID: os.Getpid(), HubStartTimeTicks: self().Start + 1}
}

func readLine(t *testing.T, br *bufio.Reader, prefix string) string {
	t.Helper()
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading child output: %v", err)
		}
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(l, prefix))
		}
	}
}

func TestReapStale(t *testing.T) {
	if _, err := readProc(os.Getpid()); err != nil {
		t.Skipf("process inspection unavailable here (%v): ReapStale refuses to kill", err)
	}
	tests := []struct {
		name       string
		mutate     func(*childRecord)
		plant      func(t *testing.T, path string) // changes the written record file
		wantKilled bool
		wantErr    bool
		wantKept   bool
	}{
		{name: "kills the recorded group", wantKilled: true},
		{name: "refuses when the start time differs (pid reused)", mutate: func(r *childRecord) { r.StartTimeTicks++ }},
		{name: "refuses without a start time", mutate: func(r *childRecord) { r.StartTimeTicks = 0 }},
		{name: "leaves a running hub's child alone", wantErr: true, wantKept: true, mutate: func(r *childRecord) {
			// The "hub" is the child itself: alive, with a matching start time.
			r.HubPID, r.HubStartTimeTicks = r.PID, r.StartTimeTicks
		}},
		// In a group-shared root a group member can plant records; only a
		// file this user wrote and nobody else can change is acted on.
		{name: "ignores a record that is a symlink", plant: func(t *testing.T, path string) {
			elsewhere := filepath.Join(t.TempDir(), "planted")
			if err := os.Rename(path, elsewhere); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, path); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "ignores a record others can write", plant: func(t *testing.T, path string) {
			if err := os.Chmod(path, 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "ignores a hard-linked record", plant: func(t *testing.T, path string) {
			if err := os.Link(path, filepath.Join(t.TempDir(), "second-name")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd, br := startGroup(t, "sleep")
			readLine(t, br, "sleeping")
			rec := recordFor(t, cmd.Process.Pid)
			if tc.mutate != nil {
				tc.mutate(&rec)
			}
			dir := t.TempDir()
			path := writeTestRecord(t, dir, rec)
			if tc.plant != nil {
				tc.plant(t, path)
			}
			killed, err := ReapStale(dir, nil)
			if killed != tc.wantKilled || (err != nil) != tc.wantErr {
				t.Fatalf("ReapStale = %v, %v; want killed=%v, error=%v", killed, err, tc.wantKilled, tc.wantErr)
			}
			if _, err := os.Lstat(path); (err == nil) != tc.wantKept {
				t.Errorf("record kept = %v, want %v", err == nil, tc.wantKept)
			}
			alive := unix.Kill(cmd.Process.Pid, 0) == nil
			if tc.wantKilled {
				if l := readLine(t, br, "got"); l != "SIGTERM" {
					t.Errorf("child saw %q, want SIGTERM", l)
				}
				if groupAlive(cmd.Process.Pid) {
					t.Errorf("group still alive after ReapStale")
				}
			} else if !alive {
				t.Errorf("ReapStale killed a process it should have refused")
			}
		})
	}
}

func TestReapStaleOrphanedGrandchild(t *testing.T) {
	if _, err := readProc(os.Getpid()); err != nil {
		t.Skipf("process inspection unavailable here: %v", err)
	}
	// A previous hub died; Pdeathsig took the module's leader, but the
	// leader's own child lives on in the group, holding the port.
	cmd, br := startGroup(t, "grandchild", "PORT="+strconv.Itoa(freePort(t)))
	gc, _ := strconv.Atoi(readLine(t, br, "grandchild "))
	readLine(t, br, "listening on")
	rec := recordFor(t, cmd.Process.Pid)
	unix.Kill(cmd.Process.Pid, unix.SIGKILL) // the leader only
	waitFor(t, 10*time.Second, "leader gone", func() bool {
		st, err := readProc(cmd.Process.Pid)
		return errors.Is(err, errNoProcess) || st.Zombie
	})
	dir := t.TempDir()
	writeTestRecord(t, dir, rec)
	killed, err := ReapStale(dir, nil)
	if !killed || err != nil {
		t.Fatalf("ReapStale = %v, %v; want the orphaned group killed", killed, err)
	}
	if groupAlive(cmd.Process.Pid) {
		t.Errorf("grandchild %d still alive", gc)
	}

	// The same record against a group whose members are not the old hub's
	// (another session) is refused.
	cmd2, br2 := startGroup(t, "grandchild", "PORT="+strconv.Itoa(freePort(t)))
	readLine(t, br2, "listening on")
	rec2 := recordFor(t, cmd2.Process.Pid)
	rec2.SID++
	unix.Kill(cmd2.Process.Pid, unix.SIGKILL)
	waitFor(t, 10*time.Second, "leader gone", func() bool {
		st, err := readProc(cmd2.Process.Pid)
		return errors.Is(err, errNoProcess) || st.Zombie
	})
	writeTestRecord(t, dir, rec2)
	if killed, err := ReapStale(dir, nil); killed || err != nil {
		t.Errorf("ReapStale of a group in another session = %v, %v; want refused", killed, err)
	}
	if !groupAlive(cmd2.Process.Pid) {
		t.Errorf("ReapStale killed a group it should have refused")
	}
}

func TestReapStaleNothingToDo(t *testing.T) {
	dir := t.TempDir()
	if killed, err := ReapStale(dir, nil); killed || err != nil {
		t.Errorf("empty dir: %v, %v", killed, err)
	}
	if killed, err := ReapStale(filepath.Join(dir, "missing"), nil); killed || err != nil {
		t.Errorf("missing dir: %v, %v", killed, err)
	}
	bad := filepath.Join(dir, "x"+recordExt)
	os.WriteFile(bad, []byte("{not json"), 0o600)
	if killed, err := ReapStale(dir, nil); killed || err != nil {
		t.Errorf("unreadable record: %v, %v", killed, err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("unreadable record not removed")
	}
	// A record whose process is long gone is just removed.
	b, _ := json.Marshal(childRecord{PID: 999999, PGID: 999999, StartTimeTicks: 1})
	os.WriteFile(bad, b, 0o600)
	if killed, err := ReapStale(dir, nil); killed || err != nil {
		t.Errorf("dead record: %v, %v", killed, err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("dead record not removed")
	}
}
