package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/openparachute/parachute/internal/manifest"
)

// configChildEnv makes the test binary a module that reads its config
// the way a first-party module does: $PARACHUTE_HOME/<name>/config.json,
// once, at start. It then answers every request with what it read and
// its pid, so a test sees which process serves and which config it has.
const configChildEnv = "HUB_TEST_CONFIG_CHILD"

// TestConfigModuleChild is not a test: it is the module process of
// TestModuleConfigAPI (the os/exec helper-process pattern).
func TestConfigModuleChild(t *testing.T) {
	name := os.Getenv(configChildEnv)
	if name == "" {
		t.Skip("helper process for TestModuleConfigAPI")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	cfg, err := os.ReadFile(filepath.Join(os.Getenv("PARACHUTE_HOME"), name, "config.json"))
	if err != nil {
		cfg = []byte("null") // no config yet
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"pid":%d,"config":%s}`, os.Getpid(), cfg)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(3)
	}
	srv.Listener = ln
	srv.Start()
	<-sigs
	os.Exit(0)
}

// cfgSchema is the test module's configSchema: a secret, an enum-like
// string, a bounded integer.
const cfgSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
"properties":{"greeting":{"type":"string","minLength":1},"count":{"type":"integer","minimum":0,"maximum":10},
"api_key":{"type":"string","writeOnly":true}},"additionalProperties":false}`

// writeConfigModule writes a module package with the given configSchema
// ("" for none) whose process is TestConfigModuleChild, and its .env.
func (h *routerHub) writeConfigModule(t *testing.T, name, schema string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
		t.Fatal(err)
	}
	mod := map[string]any{"name": name, "port": 0, "paths": []string{"/" + name}, "health": "/" + name + "/health",
		"startCmd": []string{exe, "-test.run=^TestConfigModuleChild$"}}
	if schema != "" {
		mod["configSchema"] = json.RawMessage(schema)
	}
	b, _ := json.Marshal(mod)
	if err := os.WriteFile(manifest.ModulePath(dir), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(h.paths.ModuleEnv(name)), 0o700); err != nil {
		t.Fatal(err)
	}
	env := fmt.Sprintf("%s=%s\nPARACHUTE_HOME=%s\n", configChildEnv, name, h.paths.Root)
	if err := os.WriteFile(h.paths.ModuleEnv(name), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func put(path string, tok tokenKind, body string) routerReq {
	return routerReq{method: http.MethodPut, path: path, tok: tok, body: body}
}

// childView is what TestConfigModuleChild answers.
type childView struct {
	PID    int            `json:"pid"`
	Config map[string]any `json:"config"`
}

// TestModuleConfigAPI drives a real module through the config API: the
// schema is served verbatim; a valid PUT is written (0600, secrets kept
// but never returned) and the running module is restarted as a new
// process that sees the value; an invalid PUT answers 400 with each
// failure's path, writes nothing and restarts nothing; an oversized body
// is 413. Every step is one request against ServeHTTP.
func TestModuleConfigAPI(t *testing.T) {
	h := newRouterHub(t)
	dir := h.writeConfigModule(t, "cfgmod", cfgSchema)
	h.writeServices(map[string]any{"name": "cfgmod", "port": freePort(t), "paths": []string{"/cfgmod"},
		"health": "/cfgmod/health", "version": "1.0.0", "installDir": dir})
	cfgFile := filepath.Join(h.paths.ModuleDir("cfgmod"), "config.json")

	pid := func() int {
		st, ok := h.sup.Get("cfgmod")
		if !ok {
			return 0
		}
		return st.PID
	}
	var pids []int
	var fileBefore []byte
	steps := []routerStep{
		{"schema served verbatim", get("/api/modules/cfgmod/config/schema", operator), 200, func(t *testing.T, b []byte) {
			var want bytes.Buffer
			if err := json.Compact(&want, []byte(cfgSchema)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want.Bytes()) {
				t.Fatalf("schema answered %s, want module.json's configSchema %s", b, want.Bytes())
			}
		}},
		{"no config yet", get("/api/modules/cfgmod/config", operator), 200, func(t *testing.T, b []byte) {
			if strings.TrimSpace(string(b)) != "{}" {
				t.Fatalf("config answered %s, want {}", b)
			}
		}},
		{"PUT while stopped writes and restarts nothing", put("/api/modules/cfgmod/config", operator, `{"greeting":"hi"}`), 200, func(t *testing.T, b []byte) {
			var res struct {
				Restarted bool           `json:"restarted"`
				Config    map[string]any `json:"config"`
				File      string         `json:"file"`
			}
			decodeBody(t, b, &res)
			if res.Restarted || res.Config["greeting"] != "hi" || res.File != cfgFile {
				t.Fatalf("PUT answered %s", b)
			}
		}},
		{"start", post("/api/modules/cfgmod/start", operator), 200, func(t *testing.T, _ []byte) { pids = append(pids, pid()) }},
		{"the module read the file at start", get("/cfgmod/x", noToken), 200, func(t *testing.T, b []byte) {
			var v childView
			decodeBody(t, b, &v)
			if v.PID != pids[0] || v.Config["greeting"] != "hi" {
				t.Fatalf("module answered %s, want pid %d with greeting hi", b, pids[0])
			}
		}},
		{"valid PUT restarts the module", put("/api/modules/cfgmod/config", operator, `{"greeting":"hello","count":3,"api_key":"sk-secret"}`), 200, func(t *testing.T, b []byte) {
			var res struct {
				Restarted bool           `json:"restarted"`
				PID       int            `json:"pid"`
				Config    map[string]any `json:"config"`
			}
			decodeBody(t, b, &res)
			if !res.Restarted || res.PID == 0 || slices.Contains(pids, res.PID) || res.PID != pid() {
				t.Fatalf("PUT answered %s; want restarted as a new process (earlier pids %v, supervisor has %d)", b, pids, pid())
			}
			if _, leaked := res.Config["api_key"]; leaked || res.Config["greeting"] != "hello" {
				t.Fatalf("PUT returned config %v; want greeting hello and no api_key", res.Config)
			}
			pids = append(pids, res.PID)
		}},
		{"the new process sees the value", get("/cfgmod/x", noToken), 200, func(t *testing.T, b []byte) {
			var v childView
			decodeBody(t, b, &v)
			if v.PID != pids[1] || v.Config["greeting"] != "hello" || v.Config["api_key"] != "sk-secret" {
				t.Fatalf("module answered %s, want pid %d with the new config", b, pids[1])
			}
			fi, err := os.Lstat(cfgFile)
			if err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
				t.Fatalf("config.json: %v, %v; want a regular 0600 file", fi, err)
			}
			fileBefore, _ = os.ReadFile(cfgFile)
		}},
		{"GET hides the secret", get("/api/modules/cfgmod/config", operator), 200, func(t *testing.T, b []byte) {
			var v map[string]any
			decodeBody(t, b, &v)
			if _, leaked := v["api_key"]; leaked || v["greeting"] != "hello" {
				t.Fatalf("config answered %s", b)
			}
		}},
		{"invalid PUT: 400 with every path", put("/api/modules/cfgmod/config", operator, `{"greeting":"","count":11}`), 400, func(t *testing.T, b []byte) {
			var e struct {
				Error  string `json:"error"`
				Errors []struct {
					Path         string `json:"path"`
					InstancePath string `json:"instance_path"`
					Message      string `json:"message"`
				} `json:"errors"`
			}
			decodeBody(t, b, &e)
			var paths []string
			for _, f := range e.Errors {
				paths = append(paths, f.Path+" "+f.InstancePath)
				if f.Message == "" {
					t.Errorf("failure without a message: %s", b)
				}
			}
			if e.Error != "invalid_config" || !slices.Equal(paths, []string{"count /count", "greeting /greeting"}) {
				t.Fatalf("invalid PUT answered %s", b)
			}
		}},
		{"unknown member refused", put("/api/modules/cfgmod/config", operator, `{"gretting":"x"}`), 400, nil},
		{"not an object", put("/api/modules/cfgmod/config", operator, `["greeting"]`), 400, nil},
		{"oversized body", put("/api/modules/cfgmod/config", operator, `{"greeting":"`+strings.Repeat("x", 64<<10)+`"}`), 413, nil},
		{"not JSON content", withHeader(put("/api/modules/cfgmod/config", operator, `greeting=x`), "Content-Type", "text/plain"), 415, nil},
		{"nothing was written or restarted", get("/cfgmod/x", noToken), 200, func(t *testing.T, b []byte) {
			if now, _ := os.ReadFile(cfgFile); !bytes.Equal(now, fileBefore) {
				t.Fatalf("refused PUTs changed config.json:\n%s\n→\n%s", fileBefore, now)
			}
			var v childView
			decodeBody(t, b, &v)
			if v.PID != pids[1] || pid() != pids[1] {
				t.Fatalf("module is pid %d (supervisor: %d), want %d: a refused PUT restarted it", v.PID, pid(), pids[1])
			}
		}},
		{"null removes a member", put("/api/modules/cfgmod/config", operator, `{"count":null}`), 200, func(t *testing.T, b []byte) {
			var res struct {
				Config map[string]any `json:"config"`
			}
			decodeBody(t, b, &res)
			if _, ok := res.Config["count"]; ok {
				t.Fatalf("PUT answered %s, want count removed", b)
			}
		}},
		{"stop", post("/api/modules/cfgmod/stop", operator), 200, nil},
	}
	h.runSteps(steps)
}

// TestModuleConfigRefusals covers who may call the config routes and
// every "no config here" answer, including a schema that refers to a
// remote document: refused, and never fetched.
func TestModuleConfigRefusals(t *testing.T) {
	h := newRouterHub(t)
	var fetched atomic.Int32
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Write([]byte(`{"type":"string"}`))
	}))
	t.Cleanup(remote.Close)
	withSchema := h.writeConfigModule(t, "cfgmod", cfgSchema)
	noSchema := h.writeConfigModule(t, "plain", "")
	remoteRef := h.writeConfigModule(t, "remote", `{"properties":{"a":{"$ref":"`+remote.URL+`/s.json"}}}`)
	row := func(name, dir string) map[string]any {
		return map[string]any{"name": name, "port": freePort(t), "paths": []string{"/" + name},
			"health": "/" + name + "/health", "version": "1.0.0", "installDir": dir}
	}
	h.writeServices(row("cfgmod", withSchema), row("plain", noSchema), row("remote", remoteRef),
		map[string]any{"name": "gone", "port": freePort(t), "paths": []string{"/gone"}, "health": "/gone/health", "version": "1.0.0"},
		map[string]any{"name": "bad", "port": freePort(t), "paths": []string{"/api/bad"}, "health": "/api/bad/health", "version": "1.0.0"})

	cases := []routeCase{
		{name: "schema without a token", routerReq: get("/api/modules/cfgmod/config/schema", noToken), status: 401, code: "unauthenticated"},
		{name: "schema with a garbage token", routerReq: get("/api/modules/cfgmod/config/schema", garbage), status: 401, code: "unauthenticated"},
		{name: "schema with host:auth only", routerReq: get("/api/modules/cfgmod/config/schema", authOnly), status: 403, code: "insufficient_scope"},
		{name: "config with host:auth only", routerReq: get("/api/modules/cfgmod/config", authOnly), status: 403, code: "insufficient_scope"},
		{name: "PUT with host:auth only", routerReq: put("/api/modules/cfgmod/config", authOnly, `{"greeting":"x"}`), status: 403, code: "insufficient_scope"},
		{name: "PUT without a token", routerReq: put("/api/modules/cfgmod/config", noToken, `{"greeting":"x"}`), status: 401, code: "unauthenticated"},
		{name: "PUT from another origin", routerReq: withHeader(put("/api/modules/cfgmod/config", operator, `{"greeting":"x"}`), "Origin", "https://evil.example"), status: 403, code: "cross_origin"},
		{name: "PUT cross-site", routerReq: withHeader(put("/api/modules/cfgmod/config", operator, `{"greeting":"x"}`), "Sec-Fetch-Site", "cross-site"), status: 403, code: "cross_origin"},
		{name: "DELETE config", routerReq: routerReq{method: http.MethodDelete, path: "/api/modules/cfgmod/config", tok: operator}, status: 405, code: "method_not_allowed", allow: "GET, PUT"},
		{name: "PUT schema", routerReq: put("/api/modules/cfgmod/config/schema", operator, `{}`), status: 405, code: "method_not_allowed", allow: "GET"},
		{name: "unknown module", routerReq: get("/api/modules/nope/config", operator), status: 404, code: "not_installed"},
		{name: "unknown module schema", routerReq: get("/api/modules/nope/config/schema", operator), status: 404, code: "not_installed"},
		{name: "unknown module PUT", routerReq: put("/api/modules/nope/config", operator, `{}`), status: 404, code: "not_installed"},
		{name: "module without a schema", routerReq: get("/api/modules/plain/config/schema", operator), status: 404, code: "no_config_schema"},
		{name: "module without a schema PUT", routerReq: put("/api/modules/plain/config", operator, `{"a":1}`), status: 404, code: "no_config_schema"},
		{name: "module without an installDir", routerReq: get("/api/modules/gone/config", operator), status: 404, code: "no_config_schema"},
		{name: "remote $ref schema", routerReq: get("/api/modules/remote/config/schema", operator), status: 422, code: "invalid_config_schema"},
		{name: "remote $ref PUT", routerReq: put("/api/modules/remote/config", operator, `{"a":"x"}`), status: 422, code: "invalid_config_schema"},
		{name: "mount-refused module", routerReq: get("/api/modules/bad/config", operator), status: 409, code: "mount_refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := h.do(c.routerReq)
			got := resultOf(t, w)
			if got.Status != c.status || got.Code != c.code || got.Allow != c.allow || !got.Described {
				t.Fatalf("%s %s = %+v, want %d %s (Allow %q); body %s", c.method, c.path, got, c.status, c.code, c.allow, w.Body)
			}
		})
	}
	if n := fetched.Load(); n != 0 {
		t.Fatalf("the hub fetched the remote schema %d times", n)
	}
	if _, err := os.Stat(filepath.Join(h.paths.ModuleDir("remote"), "config.json")); err == nil {
		t.Fatal("a PUT against a refused schema wrote config.json")
	}
}
