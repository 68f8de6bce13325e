// Package e2e holds black-box tests: they build the parachute binary and a
// small test module, run `parachute serve` in a temporary PARACHUTE_HOME on
// a free port, and drive it only through the CLI and HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
)

var (
	parachuteBin string // built once in TestMain
	testmodBin   string
)

func TestMain(m *testing.M) {
	if os.Getenv(inBoxEnv) != "" {
		// Inside systemd-box: the host bound the binaries in.
		parachuteBin, testmodBin = boxBin+"/parachute", boxBin+"/testmod"
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "parachute-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The box's non-root test user must be able to run what is in here.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	parachuteBin = filepath.Join(dir, "parachute")
	testmodBin = filepath.Join(dir, "testmod")
	for _, b := range []struct{ out, pkg string }{
		{parachuteBin, "github.com/openparachute/parachute/cmd/parachute"},
		{testmodBin, "github.com/openparachute/parachute/internal/e2e/testmod"},
	} {
		args := []string{"build", "-o", b.out}
		if os.Getenv("PARACHUTE_E2E_RACE") == "1" {
			// The hub under the race detector: a race makes it print
			// "WARNING: DATA RACE" and exit 66, which the tests see.
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, b.pkg)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", b.pkg, ":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a port nothing listens on right now.
var freePort = testenv.FreePort

// waitFor polls cond until it is true or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
	}
}

// module describes a test module to register in services.json.
type module struct {
	name      string
	mode      []string // testmod arguments
	supervise map[string]any
	port      int
	argv      []string // a startCmd other than testmod (overrides mode)
}

// hubEnv is one hub under test: its config root, port and process.
type hubEnv struct {
	t       testing.TB
	root    string
	port    int
	cmd     *exec.Cmd
	out     *testenv.SyncBuffer
	stdout  io.Writer // when set, gets the hub's stdout (module lines) instead of out
	done    chan struct{}
	exitErr error
	// extraEnv is added to the hub's (and the CLI's) environment.
	extraEnv []string
}

// newHome makes a PARACHUTE_HOME with the given modules registered as
// third-party modules (installDir with .parachute/module.json).
func newHome(t testing.TB, mods ...module) *hubEnv {
	t.Helper()
	root := t.TempDir()
	h := &hubEnv{t: t, root: root, port: freePort(t)}
	var rows []map[string]any
	for i := range mods {
		m := &mods[i]
		if m.port == 0 {
			m.port = freePort(t)
		}
		dir := filepath.Join(root, "modules", m.name)
		if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
			t.Fatal(err)
		}
		mj := map[string]any{"name": m.name, "port": m.port, "paths": []string{"/" + m.name},
			"health": "/" + m.name + "/health", "startCmd": append([]string{testmodBin}, m.mode...)}
		if m.argv != nil {
			mj["startCmd"] = m.argv
		}
		writeJSON(t, filepath.Join(dir, ".parachute", "module.json"), mj)
		row := map[string]any{"name": m.name, "port": m.port, "paths": []string{"/" + m.name},
			"health": "/" + m.name + "/health", "version": "1.0.0", "installDir": dir}
		if m.supervise != nil {
			row["supervise"] = m.supervise
		}
		rows = append(rows, row)
	}
	if rows != nil {
		writeJSON(t, filepath.Join(root, "services.json"), map[string]any{"services": rows})
	}
	return h
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (h *hubEnv) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PARACHUTE_") || strings.HasPrefix(kv, "PORT=") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, h.extraEnv...)
	return append(env, "PARACHUTE_HOME="+h.root)
}

// start runs `parachute serve` and waits for /health.
func (h *hubEnv) start() {
	t := h.t
	t.Helper()
	h.out = &testenv.SyncBuffer{}
	h.cmd = exec.Command(parachuteBin, "serve", "--port", strconv.Itoa(h.port))
	h.cmd.Env = h.env()
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	if h.stdout != nil {
		h.cmd.Stdout = h.stdout
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h.done = make(chan struct{})
	go func() { h.exitErr = h.cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		h.stop()
		if strings.Contains(h.out.String(), "WARNING: DATA RACE") {
			t.Errorf("the hub reported a data race (built with PARACHUTE_E2E_RACE=1)")
		}
		if t.Failed() {
			t.Logf("hub output:\n%s", h.out.String())
		}
	})
	waitFor(t, "hub /health", 10*time.Second, func() bool {
		select {
		case <-h.done:
			t.Fatalf("hub exited early: %v\n%s", h.exitErr, h.out.String())
		default:
		}
		resp, err := http.Get(h.url("/health"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// stop sends SIGTERM and waits for the hub to exit.
func (h *hubEnv) stop() error {
	if h.cmd == nil || h.cmd.Process == nil {
		return nil
	}
	select {
	case <-h.done:
		return h.exitErr
	default:
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
		h.t.Errorf("hub did not exit within 20s of SIGTERM")
	}
	return h.exitErr
}

func (h *hubEnv) url(p string) string { return "http://127.0.0.1:" + strconv.Itoa(h.port) + p }

// run runs the parachute CLI against this hub's root.
func (h *hubEnv) run(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, parachuteBin, args...)
	cmd.Env = h.env()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("running parachute %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// token reads the operator token the hub minted.
func (h *hubEnv) token() string {
	b, err := os.ReadFile(filepath.Join(h.root, "operator.token"))
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// api calls the hub API with the operator token.
func (h *hubEnv) api(method, path string, hdr map[string]string) (int, []byte) {
	h.t.Helper()
	return h.send(method, path, nil, hdr)
}

// send calls the hub API with the operator token, body (if not nil) and
// the headers hdr ("Host" sets the request's Host).
func (h *hubEnv) send(method, path string, body io.Reader, hdr map[string]string) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url(path), body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token())
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// statusJSON runs `parachute status --json`.
func (h *hubEnv) status() (statusDoc, int) {
	h.t.Helper()
	out, errOut, code := h.run("status", "--json")
	var s statusDoc
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		h.t.Fatalf("status --json: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	return s, code
}

type statusDoc struct {
	Hub struct {
		Up    bool   `json:"up"`
		State string `json:"state"`
		PID   int    `json:"pid"`
	} `json:"hub"`
	Modules []modDoc `json:"modules"`
}

type modDoc struct {
	Name     string  `json:"name"`
	Short    string  `json:"short"`
	Port     int     `json:"port"`
	State    string  `json:"state"`
	Status   *string `json:"status"`
	PID      *int    `json:"pid"`
	Restarts int     `json:"restarts"`
	UptimeS  *int64  `json:"uptime_s"`
	Health   *struct {
		OK        bool    `json:"ok"`
		LatencyMS float64 `json:"latency_ms"`
	} `json:"health"`
}

func (s statusDoc) module(name string) (modDoc, bool) {
	for _, x := range s.Modules {
		if x.Name == name {
			return x, true
		}
	}
	return modDoc{}, false
}

// groupGone reports whether no live process is left in process group pgid.
// A zombie awaiting its reaper does not count: it holds no port, memory or
// file, and whether PID 1 reaps orphans promptly depends on the sandbox.
func groupGone(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return true
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state ppid pgrp …
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		f := strings.Fields(rest)
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			return false
		}
	}
	return true
}
