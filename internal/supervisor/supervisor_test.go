package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStartReady(t *testing.T) {
	tests := []struct {
		name   string
		health string
	}{
		{"tcp probe", ""},
		{"http probe", "/health"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			port := freePort(t)
			spec := h.spec("vault", "serve", "PORT="+strconv.Itoa(port), "DELAY_MS=100")
			spec.Port, spec.HealthPath = port, tc.health
			st, err := h.sup.Start(context.Background(), spec)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if st.Status != StatusRunning || !st.Ready || st.PID == 0 || st.StartedAt == nil || st.StartError != nil {
				t.Errorf("state after Start = %+v; want running, ready, pid and startedAt set", st)
			}
			if got := len(h.spawned()); got != 1 {
				t.Errorf("%d spawns, want 1", got)
			}
		})
	}
}

func TestStartIsIdempotent(t *testing.T) {
	h := newHarness(t, Options{})
	port := freePort(t)
	spec := h.spec("vault", "serve", "PORT="+strconv.Itoa(port))
	spec.Port = port
	first, err := h.sup.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.sup.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second Start changed the state (-first +second):\n%s", diff)
	}
	if got := len(h.spawned()); got != 1 {
		t.Errorf("%d spawns, want 1", got)
	}
}

func TestStartWithoutPortIsReadyAtOnce(t *testing.T) {
	h := newHarness(t, Options{})
	st, err := h.sup.Start(context.Background(), h.spec("runner", "sleep"))
	if err != nil || st.Status != StatusRunning || !st.Ready {
		t.Fatalf("Start = %+v, %v; want running and ready", st, err)
	}
}

func TestMissingDependency(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	exe, _ := os.Executable()
	// A binary only the child's PATH knows, and a script whose interpreter is missing.
	if err := os.Symlink(exe, filepath.Join(bin, "parachute-test-module")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bin, "broken.sh"), []byte("#!/nonexistent/interpreter\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "notexec"), []byte("data"), 0o644)

	tests := []struct {
		name     string
		argv0    string
		env      []string
		dir      string
		wantErr  error
		wantType string
		wantDesc string
	}{
		{"not on PATH", "parachute-no-such-binary", []string{"PATH=/usr/bin:/bin"}, "", ErrMissingDependency, "missing_dependency", "PATH=/usr/bin:/bin"},
		{"no PATH in env", "parachute-no-such-binary", []string{}, "", ErrMissingDependency, "missing_dependency", "no PATH"},
		{"relative path against Dir", "./bin/absent", nil, dir, ErrMissingDependency, "missing_dependency", filepath.Join(dir, "bin/absent")},
		{"not executable", "./bin/notexec", nil, dir, ErrMissingDependency, "missing_dependency", "notexec"},
		{"missing interpreter", "./bin/broken.sh", nil, dir, ErrMissingDependency, "missing_dependency", "interpreter"},
		{"missing working directory", "sh", nil, filepath.Join(dir, "gone"), ErrSpawnFailed, "spawn_failed", "working directory"},
		{"found on the child's PATH", "parachute-test-module", []string{"PATH=" + bin}, "", nil, "", ""},
		{"relative path found", "./bin/parachute-test-module", nil, dir, nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			env := append(tc.env, childModeEnv+"=sleep")
			st, err := h.sup.Start(context.Background(), Spec{Short: "mod", Argv: []string{tc.argv0}, Env: env, Dir: tc.dir})
			if tc.wantErr == nil {
				if err != nil || st.Status != StatusRunning {
					t.Fatalf("Start = %+v, %v; want running", st, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Start error = %v, want %v", err, tc.wantErr)
			}
			if st.Status != StatusCrashed || st.PID != 0 || st.StartError == nil {
				t.Fatalf("state = %+v; want crashed with a StartError", st)
			}
			if st.StartError.Type != tc.wantType || !strings.Contains(st.StartError.Description, tc.wantDesc) {
				t.Errorf("StartError = %+v; want type %s mentioning %q", st.StartError, tc.wantType, tc.wantDesc)
			}
			if tc.wantType == "missing_dependency" && st.StartError.Binary != tc.argv0 {
				t.Errorf("Binary = %q, want %q", st.StartError.Binary, tc.argv0)
			}
			if n := len(h.spawned()); n != 0 {
				t.Errorf("%d spawns, want none", n)
			}
			// No restart loop: it stays crashed.
			if st2 := h.state("mod"); st2.Status != StatusCrashed || st2.NextRestartAt != nil {
				t.Errorf("later state = %+v; want crashed with no restart pending", st2)
			}
		})
	}
}

func TestStartedButUnbound(t *testing.T) {
	h := newHarness(t, Options{})
	port := freePort(t)
	// The child binds only after the readiness window has passed.
	spec := h.spec("scribe", "serve", "PORT="+strconv.Itoa(port), "DELAY_MS=600")
	spec.Port = port
	spec.Policy.ReadyTimeout = 150 * time.Millisecond
	st, err := h.sup.Start(context.Background(), spec)
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("Start error = %v, want ErrNotReady", err)
	}
	if st.Status != StatusRunning || st.Ready || st.StartError == nil || st.StartError.Type != "started_but_unbound" ||
		!strings.Contains(st.StartError.Description, strconv.Itoa(port)) {
		t.Fatalf("state = %+v; want running, not ready, started_but_unbound naming the port", st)
	}
	// An idempotent Start says the same.
	if _, err := h.sup.Start(context.Background(), spec); !errors.Is(err, ErrNotReady) {
		t.Errorf("second Start error = %v, want ErrNotReady", err)
	}
	// Background probing clears the error once the child binds.
	st = h.waitState("scribe", "ready after a late bind", func(s State) bool { return s.Ready })
	if st.StartError != nil || st.Status != StatusRunning {
		t.Errorf("state after late bind = %+v; want running with no StartError", st)
	}
}

func TestExitedDuringStart(t *testing.T) {
	h := newHarness(t, Options{})
	spec := h.spec("vault", "exit", "CODE=3")
	spec.Port = freePort(t)
	spec.Policy.MaxCrashes = 1
	spec.Policy.BackoffMin = time.Hour // the Start answer is the state at the first crash
	st, err := h.sup.Start(context.Background(), spec)
	if !errors.Is(err, ErrExitedDuringStart) {
		t.Fatalf("Start error = %v, want ErrExitedDuringStart", err)
	}
	for _, want := range []string{"code 3", "[vault] bye", "[vault] err line", "[vault] tail"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if st.Status != StatusRestarting || st.StartError == nil || st.StartError.Type != "exited_during_start" ||
		st.LastExitCode == nil || *st.LastExitCode != 3 || st.NextRestartAt == nil {
		t.Errorf("state = %+v; want restarting with exited_during_start and exit code 3", st)
	}
}

func TestListAndGet(t *testing.T) {
	h := newHarness(t, Options{})
	for _, short := range []string{"vault", "scribe", "channel"} {
		if _, err := h.sup.Start(context.Background(), h.spec(short, "sleep")); err != nil {
			t.Fatal(err)
		}
	}
	h.sup.Stop(context.Background(), "scribe")
	var got []string
	for _, st := range h.sup.List() {
		got = append(got, st.Short+":"+string(st.Status))
	}
	if diff := cmp.Diff([]string{"vault:running", "scribe:stopped", "channel:running"}, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if _, ok := h.sup.Get("notes"); ok {
		t.Errorf("Get of an unknown module succeeded")
	}
	if _, ok := h.sup.Logs("notes", 0); ok {
		t.Errorf("Logs of an unknown module succeeded")
	}
	if _, _, ok := h.sup.Follow(context.Background(), "notes", 0); ok {
		t.Errorf("Follow of an unknown module succeeded")
	}
}

func TestInvalidSpec(t *testing.T) {
	h := newHarness(t, Options{})
	for _, sp := range []Spec{{Short: "", Argv: []string{"x"}}, {Short: "../x", Argv: []string{"x"}}, {Short: "x"}, {Short: "x", Argv: []string{"x"}, Port: 70000}} {
		if _, err := h.sup.Start(context.Background(), sp); err == nil {
			t.Errorf("Start(%+v) succeeded", sp)
		}
	}
}

func TestRecordWrittenAndRemoved(t *testing.T) {
	runDir := t.TempDir()
	h := newHarness(t, Options{RunDir: func(string) string { return runDir }})
	st, err := h.sup.Start(context.Background(), h.spec("vault", "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(runDir, "vault.hubchild")
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	if !strings.Contains(string(b), `"pid":`+strconv.Itoa(st.PID)) || !strings.Contains(string(b), `"start_time_ticks":`) {
		t.Errorf("record = %s; want the pid %d and its start time", b, st.PID)
	}
	// This hub's own record is not stale.
	if killed, err := ReapStale(runDir, nil); killed || err != nil {
		t.Errorf("ReapStale on our own record = %v, %v", killed, err)
	}
	if _, err := os.Stat(rec); err != nil {
		t.Errorf("ReapStale removed this hub's record: %v", err)
	}
	h.sup.Stop(context.Background(), "vault")
	if _, err := os.Stat(rec); !os.IsNotExist(err) {
		t.Errorf("record still there after Stop (%v)", err)
	}
}
