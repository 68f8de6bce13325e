package servicemgr

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"
)

// fakeLaunchd is a recording stand-in for launchctl (there is no launchd on
// Linux). It keeps which targets are loaded and answers the way launchctl
// does; bootstrapAnswers, when set, override the next bootstrap results to
// reproduce "Bootstrap failed: 5".
type fakeLaunchd struct {
	loaded           map[string]bool
	printOut         string
	bootstrapAnswers []fakeAnswer
	calls            [][]string
}

type fakeAnswer struct {
	stderr string
	code   int
}

func newFakeLaunchd() *fakeLaunchd { return &fakeLaunchd{loaded: map[string]bool{}} }

func (f *fakeLaunchd) run(_ context.Context, name string, args ...string) (string, string, int, error) {
	f.calls = append(f.calls, append([]string{name}, args...))
	if name == "ps" {
		return "Wed Nov 26 10:04:05 2026\n", "", 0, nil
	}
	if name != "launchctl" || len(args) == 0 {
		return "", "", 127, errors.New("unexpected program " + name)
	}
	notFound := func(target string) (string, string, int, error) {
		return "", `Could not find service "` + filepath.Base(target) + `" in domain for port` + "\n", 113, nil
	}
	switch args[0] {
	case "print":
		if f.loaded[args[1]] {
			return f.printOut, "", 0, nil
		}
		return notFound(args[1])
	case "bootout":
		if !f.loaded[args[1]] {
			return "", "Boot-out failed: 3: No such process\n", 3, nil
		}
		delete(f.loaded, args[1])
		return "", "", 0, nil
	case "bootstrap":
		target := args[1] + "/" + strings.TrimSuffix(filepath.Base(args[2]), ".plist")
		if len(f.bootstrapAnswers) > 0 {
			a := f.bootstrapAnswers[0]
			f.bootstrapAnswers = f.bootstrapAnswers[1:]
			if a.code != 0 {
				return "", a.stderr, a.code, nil
			}
		}
		if f.loaded[target] {
			return "", "Bootstrap failed: 5: Input/output error\n", 5, nil
		}
		f.loaded[target] = true
		return "", "", 0, nil
	case "enable":
		return "", "", 0, nil
	case "kickstart":
		if !f.loaded[args[len(args)-1]] {
			return notFound(args[len(args)-1])
		}
		return "", "", 0, nil
	}
	return "", "Unrecognized subcommand: " + args[0] + "\n", 64, nil
}

const label = "computer.parachute.hub"

func newTestLaunchd(t *testing.T, f *fakeLaunchd, system bool) (*Launchd, string) {
	t.Helper()
	home := t.TempDir()
	m := NewLaunchd(LaunchdOptions{System: system, UID: 501, Home: home, Runner: f.run, PollInterval: time.Millisecond})
	path := UnitPath(KindLaunchd, home, label)
	return m, path
}

func writePlist(t *testing.T, path, logPath string) {
	t.Helper()
	data, err := plist.MarshalIndent(map[string]any{"Label": label, "StandardOutPath": logPath}, plist.XMLFormat, "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLaunchdSequences asserts the exact launchctl argv each operation runs,
// starting from a given loaded state.
func TestLaunchdSequences(t *testing.T) {
	const tgt = "gui/501/" + label
	type step struct {
		op      string // install, install-nostart, start, stop, restart, uninstall
		want    [][]string
		wantErr error
	}
	tests := []struct {
		name       string
		loaded     bool
		answers    []fakeAnswer
		steps      []step
		wantLoaded bool
	}{
		{
			name: "install on a fresh box",
			steps: []step{{op: "install", want: [][]string{
				{"launchctl", "bootout", tgt},
				{"launchctl", "enable", tgt},
				{"launchctl", "bootstrap", "gui/501", "PLIST"},
			}}},
			wantLoaded: true,
		},
		{
			name:   "install over a loaded job unloads it first",
			loaded: true,
			steps: []step{{op: "install", want: [][]string{
				{"launchctl", "bootout", tgt},
				{"launchctl", "print", tgt},
				{"launchctl", "enable", tgt},
				{"launchctl", "bootstrap", "gui/501", "PLIST"},
			}}},
			wantLoaded: true,
		},
		{
			name: "install without start only enables",
			steps: []step{{op: "install-nostart", want: [][]string{
				{"launchctl", "enable", tgt},
			}}},
		},
		{
			name:   "stop then start bootstraps the unloaded job",
			loaded: true,
			steps: []step{
				{op: "stop", want: [][]string{{"launchctl", "bootout", tgt}, {"launchctl", "print", tgt}}},
				{op: "start", want: [][]string{{"launchctl", "print", tgt}, {"launchctl", "bootstrap", "gui/501", "PLIST"}}},
			},
			wantLoaded: true,
		},
		{
			name:   "start of a loaded job kickstarts without -k",
			loaded: true,
			steps: []step{{op: "start", want: [][]string{
				{"launchctl", "print", tgt},
				{"launchctl", "kickstart", tgt},
			}}},
			wantLoaded: true,
		},
		{
			name:   "restart of a loaded job kickstarts with -k",
			loaded: true,
			steps: []step{{op: "restart", want: [][]string{
				{"launchctl", "print", tgt},
				{"launchctl", "kickstart", "-k", tgt},
			}}},
			wantLoaded: true,
		},
		{
			name: "restart of an unloaded job bootstraps",
			steps: []step{{op: "restart", want: [][]string{
				{"launchctl", "print", tgt},
				{"launchctl", "bootstrap", "gui/501", "PLIST"},
			}}},
			wantLoaded: true,
		},
		{
			name: "stop of an unloaded job is fine",
			steps: []step{{op: "stop", want: [][]string{
				{"launchctl", "bootout", tgt},
			}}},
		},
		{
			name:   "uninstall boots out and is idempotent",
			loaded: true,
			steps: []step{
				{op: "uninstall", want: [][]string{{"launchctl", "bootout", tgt}, {"launchctl", "print", tgt}}},
				{op: "uninstall", want: [][]string{{"launchctl", "bootout", tgt}}},
			},
		},
		{
			name:    "bootstrap error 5 while draining: bootout and retry once",
			answers: []fakeAnswer{{stderr: "Bootstrap failed: 5: Input/output error\n", code: 5}},
			steps: []step{{op: "install", want: [][]string{
				{"launchctl", "bootout", tgt},
				{"launchctl", "enable", tgt},
				{"launchctl", "bootstrap", "gui/501", "PLIST"},
				{"launchctl", "bootout", tgt},
				{"launchctl", "bootstrap", "gui/501", "PLIST"},
			}}},
			wantLoaded: true,
		},
		{
			name: "bootstrap error 5 twice is reported with print output",
			answers: []fakeAnswer{
				{stderr: "Bootstrap failed: 5: Input/output error\n", code: 5},
				{stderr: "Bootstrap failed: 5: Input/output error\n", code: 5},
			},
			steps: []step{{op: "start", wantErr: &JobError{}, want: [][]string{
				{"launchctl", "print", tgt},
				{"launchctl", "bootstrap", "gui/501", "PLIST"},
				{"launchctl", "bootout", tgt},
				{"launchctl", "bootstrap", "gui/501", "PLIST"},
				{"launchctl", "print", tgt},
			}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLaunchd()
			f.bootstrapAnswers = tc.answers
			m, path := newTestLaunchd(t, f, false)
			if tc.loaded {
				f.loaded[tgt] = true
			}
			writePlist(t, path, "")
			ctx := context.Background()
			for i, s := range tc.steps {
				f.calls = nil
				var err error
				switch s.op {
				case "install", "install-nostart":
					_, err = m.Install(ctx, Unit{Name: label, Path: path, Content: []byte("<plist/>")}, s.op == "install")
				case "start":
					err = m.Start(ctx, label)
				case "stop":
					err = m.Stop(ctx, label)
				case "restart":
					err = m.Restart(ctx, label)
				case "uninstall":
					_, err = m.Uninstall(ctx, label, path)
				}
				var je *JobError
				switch {
				case s.wantErr == nil && err != nil:
					t.Fatalf("step %d %s: %v", i, s.op, err)
				case s.wantErr != nil && !errors.As(err, &je):
					t.Fatalf("step %d %s: err = %v, want a *JobError", i, s.op, err)
				}
				for _, c := range f.calls {
					for j := range c {
						c[j] = strings.ReplaceAll(c[j], path, "PLIST")
					}
				}
				if diff := cmp.Diff(s.want, f.calls); diff != "" {
					t.Errorf("step %d %s: launchctl calls (-want +got):\n%s", i, s.op, diff)
				}
			}
			if got := f.loaded[tgt]; got != tc.wantLoaded {
				t.Errorf("loaded at the end = %v, want %v", got, tc.wantLoaded)
			}
		})
	}
}

func TestLaunchdBootstrapFailureReport(t *testing.T) {
	f := newFakeLaunchd()
	f.bootstrapAnswers = []fakeAnswer{
		{stderr: "Bootstrap failed: 125: Domain does not support specified action\n", code: 125},
	}
	m, path := newTestLaunchd(t, f, false)
	writePlist(t, path, "")
	err := m.Start(context.Background(), label)
	var je *JobError
	if !errors.As(err, &je) {
		t.Fatalf("Start = %v, want *JobError", err)
	}
	if je.Result != "failed" || !strings.Contains(je.Detail, "Domain does not support") || !strings.Contains(je.Detail, "not over plain SSH") {
		t.Errorf("JobError = %+v, want the launchctl words and the SSH hint", je)
	}
	if len(je.JournalTail) == 0 || !strings.Contains(je.JournalTail[0], "Could not find service") {
		t.Errorf("JournalTail = %q, want the print output", je.JournalTail)
	}
}

func TestLaunchdInstallWritesPlistAndDirs(t *testing.T) {
	f := newFakeLaunchd()
	m, path := newTestLaunchd(t, f, false)
	logDir := filepath.Join(t.TempDir(), "hub", "logs")
	msgs, err := m.Install(context.Background(), Unit{Name: label, Path: path, Content: []byte("<plist/>"), Dirs: []string{logDir}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Installed launchd LaunchAgent computer.parachute.hub — it now runs and starts on login/boot."}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("plist %s: %v, mode %v; want 0644", path, err, fi.Mode())
	}
	if fi, err := os.Stat(logDir); err != nil || !fi.IsDir() {
		t.Errorf("log dir not created: %v", err)
	}
}

func TestLaunchdSystemDomain(t *testing.T) {
	f := newFakeLaunchd()
	m := NewLaunchd(LaunchdOptions{System: true, UID: 0, Runner: f.run})
	if m.Kind() != KindLaunchdSystem {
		t.Errorf("Kind = %s", m.Kind())
	}
	if err := m.Stop(context.Background(), label); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"launchctl", "bootout", "system/" + label}}, f.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if got, want := UnitPath(KindLaunchdSystem, "/Users/x", label), "/Library/LaunchDaemons/computer.parachute.hub.plist"; got != want {
		t.Errorf("UnitPath = %s, want %s", got, want)
	}
}

func TestLaunchdStartNotInstalled(t *testing.T) {
	m, _ := newTestLaunchd(t, newFakeLaunchd(), false)
	if err := m.Start(context.Background(), label); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Start without a plist = %v, want ErrNotInstalled", err)
	}
}
