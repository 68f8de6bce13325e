package manifest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/openparachute/parachute/internal/testenv"

	"github.com/google/go-cmp/cmp"
)

// The test binary doubles as a concurrent writer: with these variables set,
// TestMain upserts rows into a services.json instead of running tests.
const (
	helperEnv   = "MANIFEST_TEST_HELPER_PATH"
	helperName  = "MANIFEST_TEST_HELPER_PREFIX"
	helperPort  = "MANIFEST_TEST_HELPER_PORT"
	helperCount = 15
)

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(runHelper(path, os.Getenv(helperName), os.Getenv(helperPort)))
	}
	os.Exit(m.Run())
}

// runHelper waits for a line on stdin (the start signal), then upserts
// helperCount rows.
func runHelper(path, prefix, portStr string) int {
	base, err := strconv.Atoi(portStr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "waiting for start:", err)
		return 2
	}
	if err := upsertMany(path, prefix, base); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func upsertMany(path, prefix string, basePort int) error {
	for i := range helperCount {
		if err := Upsert(path, testService(fmt.Sprintf("%s-%d", prefix, i), basePort+i)); err != nil {
			return err
		}
	}
	return nil
}

func testService(name string, port int) Service {
	return Service{Name: name, Port: port, Paths: []string{"/" + name}, Health: "/" + name + "/health", Version: "1.0.0"}
}

// TestUpdateConcurrent runs goroutines and real OS processes that all
// upsert distinct rows at once; with the file lock no row may be lost.
func TestUpdateConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "services.json")
	const goroutines, procs = 4, 2

	var want []string
	var stdins []io.WriteCloser
	var cmds []*exec.Cmd
	for p := range procs {
		prefix := fmt.Sprintf("proc%d", p)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path, helperName+"="+prefix,
			helperPort+"="+strconv.Itoa(30000+p*100))
		cmd.Stderr = &strings.Builder{}
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		cmds = append(cmds, cmd)
		stdins = append(stdins, in)
		for i := range helperCount {
			want = append(want, fmt.Sprintf("%s-%d", prefix, i))
		}
	}

	start := make(chan struct{})
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		prefix := fmt.Sprintf("goroutine%d", g)
		for i := range helperCount {
			want = append(want, fmt.Sprintf("%s-%d", prefix, i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- upsertMany(path, prefix, 20000+g*100)
		}()
	}

	// Release everyone at once.
	for _, in := range stdins {
		if _, err := io.WriteString(in, "go\n"); err != nil {
			t.Fatal(err)
		}
		in.Close()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("goroutine upsert: %v", err)
		}
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process %v: %v\n%s", cmd.Env[len(cmd.Env)-2], err, cmd.Stderr)
		}
	}

	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load after concurrent upserts: %v", err)
	}
	got := map[string]bool{}
	for _, s := range f.Services {
		got[s.Name] = true
	}
	var lost []string
	for _, n := range want {
		if !got[n] {
			lost = append(lost, n)
		}
	}
	if len(lost) != 0 || len(f.Services) != len(want) {
		t.Errorf("%d rows, want %d; lost %v", len(f.Services), len(want), lost)
	}
	assertNoTempFiles(t, filepath.Dir(path))
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

// TestUpdateRefuses checks that nothing is written when the current file is
// malformed, fn fails, or the result breaks a rule (§7.1.8).
func TestUpdateRefuses(t *testing.T) {
	good := rows(row("parachute-vault", 1940))
	tests := []struct {
		name    string
		file    string
		fn      func(*File) error
		wantErr string
	}{
		{
			name:    "malformed file",
			file:    `{"services": [`,
			fn:      func(f *File) error { f.Services = nil; return nil },
			wantErr: "invalid JSON",
		},
		{
			name:    "bad row in file",
			file:    rows(row("a", 0)),
			fn:      func(f *File) error { return nil },
			wantErr: `services[0] ("a"): port`,
		},
		{
			name:    "fn fails",
			file:    good,
			fn:      func(f *File) error { f.Services = nil; return errors.New("changed my mind") },
			wantErr: "changed my mind",
		},
		{
			name: "duplicate port after fn",
			file: good,
			fn: func(f *File) error {
				f.Services = append(f.Services, testService("parachute-scribe", 1940))
				return nil
			},
			wantErr: `duplicate port 1940 — claimed by both "parachute-vault" and "parachute-scribe"`,
		},
		{
			name: "invalid row after fn",
			file: good,
			fn: func(f *File) error {
				f.Services = append(f.Services, Service{Name: "x", Port: 1950, Health: "nope"})
				return nil
			},
			wantErr: `services[1] ("x"): health`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeServices(t, tt.file)
			err := Update(path, tt.fn)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Update error = %v, want one containing %q", err, tt.wantErr)
			}
			after, _ := os.ReadFile(path)
			if string(after) != tt.file {
				t.Errorf("file changed to:\n%s", after)
			}
		})
	}
}

func TestUpsert(t *testing.T) {
	t.Run("creates the file 0600", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sub", "services.json")
		if err := Upsert(path, testService("a", 1950)); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
		}
		data, _ := os.ReadFile(path)
		want := "{\n  \"services\": [\n    {\n      \"name\": \"a\",\n      \"port\": 1950,\n      \"paths\": [\n        \"/a\"\n      ],\n" +
			"      \"health\": \"/a/health\",\n      \"version\": \"1.0.0\"\n    }\n  ]\n}\n"
		if diff := cmp.Diff(want, string(data)); diff != "" {
			t.Errorf("file (-want +got):\n%s", diff)
		}
	})

	t.Run("replaces in place and keeps unknown fields", func(t *testing.T) { // §7.1.9
		path := writeServices(t, rows(row("a", 1950),
			`{"name":"b","port":1951,"paths":[],"health":"/h","version":"1","future":{"x":1}}`, row("c", 1952)))
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		s := testService("b", 1961)
		s.Version = "2.0.0"
		if err := Upsert(path, s); err != nil {
			t.Fatal(err)
		}
		f, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a", "b", "c"}, names(f)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		b := f.Services[1]
		if b.Port != 1961 || b.Version != "2.0.0" || string(b.Extra["future"]) != `{"x":1}` {
			t.Errorf("row b = %+v", b)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
			t.Errorf("mode = %v, want the existing 0644 kept", fi.Mode().Perm())
		}
	})

	t.Run("non-nil Extra replaces unknown fields", func(t *testing.T) {
		path := writeServices(t, rows(`{"name":"b","port":1951,"paths":[],"health":"/h","version":"1","future":1}`))
		s := testService("b", 1951)
		s.Extra = map[string]json.RawMessage{}
		if err := Upsert(path, s); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), "future") {
			t.Errorf("unknown field kept despite an explicit empty Extra:\n%s", data)
		}
	})

	t.Run("invalid service is rejected before locking", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "services.json")
		err := Upsert(path, testService("a", 70000))
		if err == nil || !strings.Contains(err.Error(), "port must be an integer 1..65535, got 70000") {
			t.Fatalf("Upsert error = %v", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Error("file created by a failed upsert")
		}
	})

	t.Run("a write drops retired rows", func(t *testing.T) {
		path := writeServices(t, rows(row("agent", 1944), row("a", 1950)))
		if err := Upsert(path, testService("b", 1951)); err != nil {
			t.Fatal(err)
		}
		f, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a", "b"}, names(f)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	})
}

func TestRemove(t *testing.T) {
	t.Run("missing file stays missing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "services.json")
		found, err := Remove(path, "a")
		if err != nil || found {
			t.Fatalf("Remove = %v, %v; want false, nil", found, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Error("Remove created the file")
		}
	})
	t.Run("removes the named row", func(t *testing.T) {
		path := writeServices(t, rows(row("a", 1950), row("b", 1951)))
		found, err := Remove(path, "a")
		if err != nil || !found {
			t.Fatalf("Remove = %v, %v; want true, nil", found, err)
		}
		f, _ := Load(path)
		if diff := cmp.Diff([]string{"b"}, names(f)); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		found, err = Remove(path, "a")
		if err != nil || found {
			t.Errorf("second Remove = %v, %v; want false, nil", found, err)
		}
	})
}

func TestStartError(t *testing.T) {
	path := writeServices(t, rows(row("a", 1950)))
	e := StartError{ErrorType: "missing_dependency", ErrorDescription: "x not on PATH", Binary: "x", At: "2026-06-01T00:00:00Z"}

	found, err := SetStartError(path, "a", e)
	if err != nil || !found {
		t.Fatalf("SetStartError = %v, %v", found, err)
	}
	f, _ := Load(path)
	if diff := cmp.Diff(&e, f.Services[0].LastStartError); diff != "" {
		t.Errorf("lastStartError (-want +got):\n%s", diff)
	}

	if found, err := SetStartError(path, "missing", e); err != nil || found {
		t.Errorf("SetStartError(missing) = %v, %v; want false, nil", found, err)
	}
	if _, err := SetStartError(path, "a", StartError{}); err == nil {
		t.Error("SetStartError accepted an empty record")
	}

	if found, err := ClearStartError(path, "a"); err != nil || !found {
		t.Fatalf("ClearStartError = %v, %v", found, err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "lastStartError") {
		t.Errorf("lastStartError still present:\n%s", data)
	}
}

// TestUpdateKeepsOwner: a root CLI rewriting an operator's registry must
// leave it owned by the operator.
func TestUpdateKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root to chown the file to another user")
	}
	path := writeServices(t, rows(row("a", 1950)))
	const uid, gid = 4321, 4322
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := Upsert(path, testService("b", 1951)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid {
		t.Errorf("owner = %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
}
