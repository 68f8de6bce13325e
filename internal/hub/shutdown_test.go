package hub

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/manifest"
)

// TestShutdownDuringInstall is issue 9's shutdown test: `parachute serve`
// is stopped in the middle of a real install operation, either while the
// installer waits for the new module to become ready (a local-directory
// module that never listens) or while it runs the package manager (an npm
// on PATH that never returns). Run must cancel and wait for the operation
// before it returns, within its deadline, and nothing is left
// half-written: services.json parses, and no install journal or temp
// file remains.
func TestShutdownDuringInstall(t *testing.T) {
	cases := []struct {
		name string
		// setup prepares the install and returns its source and the
		// operation log line that says it is under way.
		setup func(t *testing.T) (source, busy string)
	}{
		{name: "module start blocks", setup: func(t *testing.T) (string, string) {
			modDir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(modDir, ".parachute"), 0o755); err != nil {
				t.Fatal(err)
			}
			mod, _ := json.Marshal(map[string]any{"name": "slowmod", "port": freePort(t), "paths": []string{"/slowmod"},
				"health": "/slowmod/health", "startCmd": []string{"sh", "-c", "exec sleep 600"}})
			if err := os.WriteFile(filepath.Join(modDir, ".parachute", "module.json"), mod, 0o644); err != nil {
				t.Fatal(err)
			}
			return modDir, "starting slowmod"
		}},
		{name: "package manager blocks", setup: func(t *testing.T) (string, string) {
			bin, npmRoot := t.TempDir(), t.TempDir()
			pidFile := filepath.Join(t.TempDir(), "npm.pid")
			// A real npm would download; this one answers `npm root -g`
			// and then hangs in `npm install` until it is killed.
			npm := "#!/bin/sh\ncase \"$1\" in\nroot) echo '" + npmRoot + "'; exit 0;;\nview) exit 1;;\nesac\necho $$ > '" + pidFile + "'\nexec sleep 600\n"
			if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(npm), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", bin+string(os.PathListSeparator)+"/usr/bin:/bin")
			t.Setenv("BUN_INSTALL", t.TempDir()) // no bun: npm is the manager
			t.Cleanup(func() { killPidFile(pidFile) })
			return "slowpkg", "installing slowpkg"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			source, busy := tc.setup(t)
			shutdownMidInstall(t, source, busy)
		})
	}
}

// killPidFile kills the process whose pid the fake npm recorded, if it is
// still there: only a hub that never cancelled its install leaves it.
func killPidFile(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func shutdownMidInstall(t *testing.T, source, busy string) {
	h := startRunHub(t)
	do := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, h.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := do(http.MethodPost, "/api/modules/slowmod/install", `{"source":"`+source+`"}`)
	var acc api.OperationAccepted
	err := json.NewDecoder(resp.Body).Decode(&acc)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || err != nil {
		t.Fatalf("install = %d (%v)", resp.StatusCode, err)
	}

	// Wait until the operation is under way (its log shows busy). Each
	// poll is a request; the sleep only paces them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := do(http.MethodGet, "/api/modules/operations/"+acc.OperationID, "")
		var op api.Operation
		_ = json.NewDecoder(resp.Body).Decode(&op)
		resp.Body.Close()
		if op.Status != api.OpPending && op.Status != api.OpRunning {
			t.Fatalf("the install finished before the shutdown: %+v", op)
		}
		if strings.Contains(strings.Join(op.Log, "\n"), busy) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the install never got to %q: %+v\n%s", busy, op, h.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}

	began := time.Now()
	h.stop()
	limit := OpsShutdownDeadline + ShutdownDeadline + 5*time.Second
	select {
	case err := <-h.runErr:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(limit):
		t.Fatalf("Run did not return within %s of the shutdown\n%s", limit, h.logs)
	}
	t.Logf("Run returned %s after the shutdown began", time.Since(began).Round(time.Millisecond))
	// The operation was cancelled and finished before Run returned: no
	// goroutine is still writing into the root.
	if !strings.Contains(h.logs.String(), "module operation failed") {
		t.Errorf("Run returned before the install operation finished:\n%s", h.logs)
	}

	if _, err := manifest.Load(h.paths.ServicesJSON()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("services.json after the shutdown: %v", err)
	}
	_ = filepath.WalkDir(h.paths.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if n := d.Name(); strings.Contains(n, ".tmp") || n == ".install-journal.json" {
			t.Errorf("left behind: %s", path)
		}
		return nil
	})
}

// TestOperationsRefusedAfterShutdown: once the hub has begun shutting
// down, a new install, upgrade or uninstall answers 503 shutting_down
// instead of starting work nobody will wait for.
func TestOperationsRefusedAfterShutdown(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	if err := h.s.ShutdownOps(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"install", "upgrade", "uninstall"} {
		req, _ := http.NewRequest(http.MethodPost, h.url("/api/modules/vault/"+op), nil)
		req.Header.Set("Authorization", "Bearer "+h.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e api.Error
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || e.Code != api.CodeShuttingDown {
			t.Errorf("%s after shutdown = %d %+v, want 503 shutting_down", op, resp.StatusCode, e)
		}
	}
	if n := h.s.ops.OperationCount(); n != 0 {
		t.Errorf("%d operation(s) registered after shutdown, want none", n)
	}
}
