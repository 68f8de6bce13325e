//go:build linux

package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunStreamedLinesArriveLive: a line reaches OnLine while the command
// still runs (the command waits for the file OnLine creates, so a
// buffered runner would time out), stdout capture keeps stdout apart.
func TestRunStreamedLinesArriveLive(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "seen")
	var lines []string
	out, err := runStreamed(context.Background(), streamCmd{
		Cmd:   Cmd{Name: "/bin/sh", Args: []string{"-c", `echo progress >&2; while [ ! -e "$1" ]; do sleep 0.01; done; echo '{"ok":true}'`, "sh", flag}},
		Shown: "waiter", Timeout: 20 * time.Second, Stdout: true,
		OnLine: func(l string) {
			lines = append(lines, l)
			if l == "progress" {
				_ = os.WriteFile(flag, nil, 0o600)
			}
		},
	})
	if err != nil || strings.TrimSpace(string(out)) != `{"ok":true}` || len(lines) != 1 {
		t.Fatalf("= %q, %v; lines %q", out, err, lines)
	}
}

// TestRunStreamedTimeoutKillsGroup: at the deadline the command and what
// it started are killed, and the error says it did not finish in time.
func TestRunStreamedTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	_, err := runStreamed(context.Background(), streamCmd{
		Cmd:   Cmd{Name: "/bin/sh", Args: []string{"-c", `sleep 300 & echo $! > "$1"; wait`, "sh", pidFile}},
		Shown: "slow init", Timeout: 300 * time.Millisecond,
	})
	if !errors.Is(err, errInitTimeout) || !strings.Contains(err.Error(), "slow init did not finish in time") {
		t.Fatalf("err = %v", err)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// SIGKILL to the group is delivered asynchronously: poll until the
	// child is gone, or a zombie waiting for init to reap it (it holds
	// nothing), for as long as a loaded machine may take.
	deadline := time.Now().Add(10 * time.Second)
	for state := procState(pid); state != "" && state != "Z"; state = procState(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the init's child %d still runs (state %s)", pid, state)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

// procState is the state letter of pid from /proc, "" when it is gone.
func procState(pid int) string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 {
		return f[0]
	}
	return ""
}

// TestRunStreamedExitCode: a non-zero exit is "<cmd> exited <n>" with the
// last lines.
func TestRunStreamedExitCode(t *testing.T) {
	_, err := runStreamed(context.Background(), streamCmd{
		Cmd:   Cmd{Name: "/bin/sh", Args: []string{"-c", "echo why it failed; exit 7"}},
		Shown: "parachute-vault init", Timeout: 20 * time.Second,
	})
	var ce *CmdError
	if !errors.As(err, &ce) || ce.Code != 7 || err.Error() != "parachute-vault init exited 7:\n  why it failed" {
		t.Fatalf("err = %v", err)
	}
}
