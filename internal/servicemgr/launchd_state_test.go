package servicemgr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func intp(n int) *int { return &n }

func readSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParsePrint(t *testing.T) {
	tests := []struct {
		sample string
		want   printInfo
	}{
		{"launchctl-print-running.txt", printInfo{State: "running", PID: 4242, Runs: 3, LastExit: intp(1), StdoutPath: "/Users/op/.parachute/hub/logs/hub.log"}},
		{"launchctl-print-crashed.txt", printInfo{State: "not running", Runs: 7, LastExit: intp(78), StdoutPath: "/Users/op/.parachute/hub/logs/hub.log"}},
		{"launchctl-print-never.txt", printInfo{State: "spawn scheduled"}},
		{"", printInfo{}},
	}
	for _, tc := range tests {
		t.Run(tc.sample, func(t *testing.T) {
			out := ""
			if tc.sample != "" {
				out = readSample(t, tc.sample)
			}
			if diff := cmp.Diff(tc.want, parsePrint(out)); diff != "" {
				t.Errorf("parsePrint (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLaunchdState(t *testing.T) {
	const tgt = "gui/501/" + label
	started := time.Date(2026, 11, 26, 10, 4, 5, 0, time.Local)
	tests := []struct {
		name   string
		sample string // "" = not loaded
		want   State
	}{
		{"running", "launchctl-print-running.txt", State{
			Kind: KindLaunchd, Installed: true, LoadState: "loaded", ActiveState: "active", SubState: "running",
			MainPID: 4242, NRestarts: 2, StartedAt: started, LastExitCode: intp(1),
		}},
		{"crashed", "launchctl-print-crashed.txt", State{
			Kind: KindLaunchd, Installed: true, LoadState: "loaded", ActiveState: "failed", SubState: "not running",
			NRestarts: 6, LastExitCode: intp(78),
		}},
		{"spawn scheduled", "launchctl-print-never.txt", State{
			Kind: KindLaunchd, Installed: true, LoadState: "loaded", ActiveState: "activating", SubState: "spawn scheduled",
		}},
		{"not loaded", "", State{Kind: KindLaunchd, Installed: true, LoadState: "not-loaded", ActiveState: "inactive"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLaunchd()
			m, path := newTestLaunchd(t, f, false)
			writePlist(t, path, "")
			if tc.sample != "" {
				f.loaded[tgt] = true
				f.printOut = readSample(t, tc.sample)
			}
			got, err := m.State(context.Background(), label, path)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Path = path
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("State (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLaunchdJournalTail(t *testing.T) {
	const tgt = "gui/501/" + label
	logPath := filepath.Join(t.TempDir(), "hub.log")
	var b strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(logPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{"line 28", "line 29", "line 30"}
	t.Run("loaded: log path from print", func(t *testing.T) {
		f := newFakeLaunchd()
		m, _ := newTestLaunchd(t, f, false)
		f.loaded[tgt] = true
		f.printOut = strings.ReplaceAll(readSample(t, "launchctl-print-running.txt"), "/Users/op/.parachute/hub/logs/hub.log", logPath)
		got, err := m.JournalTail(context.Background(), label, 3)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("JournalTail (-want +got):\n%s", diff)
		}
	})
	t.Run("not loaded: log path from the plist", func(t *testing.T) {
		m, path := newTestLaunchd(t, newFakeLaunchd(), false)
		writePlist(t, path, logPath)
		got, err := m.JournalTail(context.Background(), label, 3)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("JournalTail (-want +got):\n%s", diff)
		}
	})
}

func TestTailFileLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.log")
	line := strings.Repeat("x", 99) + "\n"
	data := strings.Repeat(line, (tailMax/len(line))+50) + "last\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := tailFile(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{strings.TrimSpace(line), "last"}, got); diff != "" {
		t.Errorf("tailFile (-want +got):\n%s", diff)
	}
}
