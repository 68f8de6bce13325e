package hub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/manifest"
)

// opView is the client's view of GET /api/modules/operations/<id>.
type opView struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind"`
	Short       string            `json:"short"`
	Status      string            `json:"status"`
	Log         []string          `json:"log"`
	Error       string            `json:"error"`
	ErrorDetail map[string]string `json:"error_detail"`
	StartedAt   time.Time         `json:"startedAt"`
	FinishedAt  *time.Time        `json:"finishedAt"`
}

// decodeBody decodes a recorded JSON answer into v.
func decodeBody(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
}

// startOp sends q, which must answer 202 with an operation id, and polls
// the operation until it has finished.
func (h *routerHub) startOp(t *testing.T, q routerReq) opView {
	t.Helper()
	w := h.do(q)
	if w.Code != http.StatusAccepted {
		t.Fatalf("%s %s: %d, want 202; body %s", q.method, q.path, w.Code, w.Body)
	}
	var acc struct {
		OperationID string `json:"operation_id"`
	}
	decodeBody(t, w.Body.Bytes(), &acc)
	if acc.OperationID == "" {
		t.Fatalf("202 without an operation_id: %s", w.Body)
	}
	return h.pollOp(t, acc.OperationID)
}

// pollOp polls GET /api/modules/operations/<id> the way a client does,
// until the operation succeeded or failed.
func (h *routerHub) pollOp(t *testing.T, id string) opView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for interval := time.Millisecond; ; interval = min(interval*2, 50*time.Millisecond) {
		w := h.do(get("/api/modules/operations/"+id, operator))
		if w.Code != http.StatusOK {
			t.Fatalf("polling operation %s: %d %s", id, w.Code, w.Body)
		}
		var op opView
		decodeBody(t, w.Body.Bytes(), &op)
		if op.ID != id {
			t.Fatalf("polled %s, got operation %q", id, op.ID)
		}
		switch op.Status {
		case "succeeded", "failed":
			if op.FinishedAt == nil || op.FinishedAt.Before(op.StartedAt) {
				t.Errorf("operation %s is %s with startedAt %v, finishedAt %v", id, op.Status, op.StartedAt, op.FinishedAt)
			}
			return op
		case "pending", "running":
		default:
			t.Fatalf("operation %s has status %q", id, op.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s still %s after 30s; log %q", id, op.Status, op.Log)
		}
		time.Sleep(interval) // polling interval, not synchronisation
	}
}

// installed lists GET /api/modules as short → supervisor status ("-" when
// not supervised), installed modules only.
func (h *routerHub) installed(t *testing.T) map[string]string {
	t.Helper()
	w := h.do(get("/api/modules", operator))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /api/modules: %d %s", w.Code, w.Body)
	}
	var body struct {
		Modules []struct {
			Short            string  `json:"short"`
			Installed        bool    `json:"installed"`
			SupervisorStatus *string `json:"supervisor_status"`
		} `json:"modules"`
	}
	decodeBody(t, w.Body.Bytes(), &body)
	out := map[string]string{}
	for _, m := range body.Modules {
		if m.Installed {
			out[m.Short] = "-"
			if m.SupervisorStatus != nil {
				out[m.Short] = *m.SupervisorStatus
			}
		}
	}
	return out
}

// writeModuleDir writes a module package (package.json and
// .parachute/module.json) that runs startCmd, and returns its directory.
func writeModuleDir(t *testing.T, name, version string, startCmd []string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
		t.Fatal(err)
	}
	pkg, _ := json.Marshal(map[string]any{"name": "parachute-" + name, "version": version})
	mod, _ := json.Marshal(map[string]any{"name": name, "port": 0, "paths": []string{"/" + name},
		"health": "/" + name + "/health", "startCmd": startCmd})
	if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest.ModulePath(dir), mod, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeTinyModule writes a module package whose process is this test
// binary serving HTTP on $PORT (TestMain's printenv mode, switched on by
// the module's .env in the hub's root), and returns its directory.
func (h *routerHub) writeTinyModule(t *testing.T, name string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := writeModuleDir(t, name, "1.0.0", []string{exe, "-test.run=^$"})
	if err := os.MkdirAll(filepath.Dir(h.paths.ModuleEnv(name)), 0o700); err != nil {
		t.Fatal(err)
	}
	env := fmt.Sprintf("%s=printenv\nHUB_TEST_ENV_OUT=%s\n", childModeEnv, filepath.Join(t.TempDir(), "env.json"))
	if err := os.WriteFile(h.paths.ModuleEnv(name), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRouterOperations drives install, upgrade and uninstall through the
// API the way the CLI does: POST answers 202 with an operation id, and
// GET /api/modules/operations/<id> is polled until the operation is done.
func TestRouterOperations(t *testing.T) {
	h := newRouterHub(t)
	dir := writeModuleDir(t, "weather", "1.0.0", []string{"sh", "-c", "exec sleep 600"})

	op := h.startOp(t, postJSON("/api/modules/weather/install", operator, fmt.Sprintf(`{"source":%q,"no_start":true}`, dir)))
	if op.Kind != "install" || op.Short != "weather" || op.Status != "succeeded" || op.Error != "" || len(op.Log) == 0 {
		t.Fatalf("install operation = %+v, want a succeeded install of weather with a log", op)
	}
	if got := h.installed(t); got["weather"] != "-" {
		t.Fatalf("after install, installed modules = %v; want weather, not supervised", got)
	}

	// A path source that does not exist: the operation is accepted and
	// fails, with a machine-readable error type.
	op = h.startOp(t, postJSON("/api/modules/ghost/install", operator, `{"source":"/nonexistent/parachute-ghost"}`))
	if op.Status != "failed" || op.Error == "" || op.ErrorDetail["error_type"] != "failed" {
		t.Fatalf("install of a missing directory = %+v, want failed with an error and error_type failed", op)
	}

	// An install that starts the module goes through the hub's own
	// supervisor: the operation succeeds once the module is ready.
	op = h.startOp(t, postJSON("/api/modules/echo/install", operator, fmt.Sprintf(`{"source":%q}`, h.writeTinyModule(t, "echo"))))
	if op.Status != "succeeded" {
		t.Fatalf("install and start = %+v, want succeeded", op)
	}
	if got := h.installed(t); got["echo"] != "running" {
		t.Fatalf("after install, installed modules = %v; want echo running", got)
	}
	op = h.startOp(t, post("/api/modules/echo/uninstall", operator))
	if op.Status != "succeeded" {
		t.Fatalf("uninstall of a running module = %+v, want succeeded", op)
	}
	if st, supervised := h.sup.Get("echo"); supervised && st.Status != "stopped" {
		t.Fatalf("after uninstall echo is %s, want stopped or not supervised", st.Status)
	}

	op = h.startOp(t, postJSON("/api/modules/weather/uninstall", operator, `{}`))
	if op.Kind != "uninstall" || op.Status != "succeeded" {
		t.Fatalf("uninstall operation = %+v, want succeeded", op)
	}
	if got := h.installed(t); slices.Contains(mapKeys(got), "weather") {
		t.Fatalf("after uninstall, installed modules = %v", got)
	}

	op = h.startOp(t, post("/api/modules/weather/upgrade", operator))
	if op.Kind != "upgrade" || op.Status != "failed" || op.ErrorDetail["error_type"] != "not_installed" {
		t.Fatalf("upgrade of a module that is not installed = %+v, want failed with error_type not_installed", op)
	}

	// Operation ids are not guessable paths into anything else.
	w := h.do(get("/api/modules/operations/"+strings.Repeat("0", 32), operator))
	if d := cmp.Diff(routeCase{status: 404, code: "not_found"}.want(), resultOf(t, w)); d != "" {
		t.Errorf("unknown operation (-want +got):\n%s", d)
	}
}

func mapKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestRouterModuleLifecycle is a sequence table over one real module (the
// test binary serving HTTP): start, the routes that read it, restart and
// stop, each step checked through ServeHTTP.
func TestRouterModuleLifecycle(t *testing.T) {
	h := newRouterHub(t)
	dir := h.writeTinyModule(t, "tiny")
	h.writeServices(map[string]any{"name": "tiny", "port": freePort(t), "paths": []string{"/tiny"},
		"health": "/tiny/health", "version": "1.0.0", "installDir": dir})

	// stateOf reads the module state out of a start/stop/restart answer.
	type stateBody struct {
		Short   string `json:"short"`
		Stopped *bool  `json:"stopped"`
		State   *struct {
			Status string `json:"status"`
			PID    int    `json:"pid"`
			Ready  bool   `json:"ready"`
		} `json:"state"`
	}
	var pids []int
	steps := []routerStep{
		{"start", post("/api/modules/tiny/start", operator), 200, func(t *testing.T, b []byte) {
			var s stateBody
			decodeBody(t, b, &s)
			if s.Short != "tiny" || s.State == nil || s.State.Status != "running" || !s.State.Ready || s.State.PID == 0 {
				t.Fatalf("start answered %s; want tiny running and ready", b)
			}
			pids = append(pids, s.State.PID)
		}},
		{"listed as running", get("/api/modules", operator), 200, func(t *testing.T, _ []byte) {
			if got := h.installed(t); got["tiny"] != "running" {
				t.Fatalf("installed modules = %v, want tiny running", got)
			}
		}},
		{"ready", get("/api/ready", noToken), 200, func(t *testing.T, b []byte) {
			var r struct {
				Ready   bool     `json:"ready"`
				Modules []string `json:"ready_modules"`
			}
			decodeBody(t, b, &r)
			if !r.Ready || !slices.Equal(r.Modules, []string{"tiny"}) {
				t.Fatalf("ready answered %s", b)
			}
		}},
		{"proxied", get("/tiny/anything", noToken), 200, nil},
		{"logs", get("/api/modules/tiny/logs?lines=5", operator), 200, func(t *testing.T, b []byte) {
			var l struct {
				Short string   `json:"short"`
				Lines []string `json:"lines"`
			}
			decodeBody(t, b, &l)
			if l.Short != "tiny" || l.Lines == nil {
				t.Fatalf("logs answered %s", b)
			}
		}},
		{"logs lines=0", get("/api/modules/tiny/logs?lines=0", operator), 200, func(t *testing.T, b []byte) {
			var l struct {
				Lines []string `json:"lines"`
			}
			decodeBody(t, b, &l)
			if len(l.Lines) != 0 {
				t.Fatalf("lines=0 answered %s", b)
			}
		}},
		{"restart", post("/api/modules/tiny/restart", operator), 200, func(t *testing.T, b []byte) {
			var s stateBody
			decodeBody(t, b, &s)
			if s.State == nil || s.State.Status != "running" || s.State.PID == 0 || slices.Contains(pids, s.State.PID) {
				t.Fatalf("restart answered %s; want running as a new process (earlier pids %v)", b, pids)
			}
		}},
		{"stop", post("/api/modules/tiny/stop", operator), 200, func(t *testing.T, b []byte) {
			var s stateBody
			decodeBody(t, b, &s)
			if s.Stopped == nil || !*s.Stopped || s.State == nil || s.State.Status != "stopped" {
				t.Fatalf("stop answered %s; want stopped", b)
			}
		}},
		{"proxy to a stopped module", get("/tiny/anything", noToken), 502, nil},
		{"start again", post("/api/modules/tiny/start", operator), 200, nil},
		{"stop again", post("/api/modules/tiny/stop", operator), 200, nil},
	}
	h.runSteps(steps)
}
