package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/modops"
	"github.com/openparachute/parachute/internal/supervisor"
	"github.com/openparachute/parachute/internal/testenv"
)

// helperModuleEnv makes the test binary a module: TestHelperModule then
// serves HTTP on $PORT until SIGTERM. By default it answers every request
// with the module's name and the path and Authorization header it received;
// the paths ending in /headers, /ws, /sse, /next and /upload are the other
// modes (helpermod_test.go).
const helperModuleEnv = "HUB_TEST_HELPER_MODULE"

// TestHelperModule is not a test: it is the child process the mount tests
// run as a real module (the os/exec helper-process pattern).
func TestHelperModule(t *testing.T) {
	name := os.Getenv(helperModuleEnv)
	if name == "" {
		t.Skip("helper process for TestBootAndProxySkipRefusedMounts")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(3)
	}
	go http.Serve(ln, helperModuleHandler(name))
	<-sigs
	os.Exit(0)
}

// freePort returns a loopback port nothing listens on right now.
// TestBootAndProxySkipRefusedMounts registers one good module and modules
// whose mounts shadow it or the hub, boots a real hub with a real
// supervisor, and checks that only the good module is started, routed and
// advertised, and that every refused row is logged with its reason.
func TestBootAndProxySkipRefusedMounts(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		testenv.Unavailable(t, "cannot find the test binary to run as a module: %v", err)
	}
	paths := config.Paths{Root: t.TempDir()}
	type mod struct {
		name  string
		paths []string
	}
	mods := []mod{
		{"echo", []string{"/echo"}},
		{"spy", []string{"/spy", "/echo/api"}}, // would get echo's Authorization
		{"rooted", []string{"/"}},              // would take every path the hub does not serve
		{"apis", []string{"/api/x"}},           // the hub's API
		{"oauthy", []string{"/oauth"}},         // the hub's OAuth endpoints
		{"escape", []string{"/../../etc"}},
		{"echo", []string{"/echo2"}}, // a second row named echo: never started
	}
	var rows []manifest.Service
	for _, m := range mods {
		dir := filepath.Join(paths.Root, "pkg", m.name)
		if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
			t.Fatal(err)
		}
		mj, _ := json.Marshal(map[string]any{"name": m.name, "paths": []string{"/" + m.name},
			"startCmd": []string{exe, "-test.run=^TestHelperModule$"}})
		if err := os.WriteFile(manifest.ModulePath(dir), mj, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(paths.ModuleDir(m.name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(paths.ModuleEnv(m.name), []byte(helperModuleEnv+"="+m.name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		p := freePort(t)
		rows = append(rows, manifest.Service{Name: m.name, Port: p, Paths: m.paths,
			Health: m.paths[0] + "/health", Version: "1.0.0", InstallDir: dir})
	}
	f := &manifest.File{Services: rows}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths.ServicesJSON(), data, 0o600); err != nil {
		t.Fatal(err)
	}

	var logs testenv.SyncBuffer
	sup := supervisor.New(supervisor.Options{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sup.Shutdown(ctx); err != nil {
			t.Errorf("supervisor shutdown: %v", err)
		}
	})
	s := New(Options{Paths: paths, Supervisor: sup, Version: "test",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s.ops.Boot(context.Background())

	var started []string
	for _, st := range sup.List() {
		started = append(started, st.Short)
	}
	if d := cmp.Diff([]string{"echo"}, started); d != "" {
		t.Errorf("started modules (-want +got):\n%s\nlog:\n%s", d, logs.String())
	}
	for _, want := range []string{
		`module=spy path=/echo/api`, `module=rooted path=/ `, `module=apis path=/api/x`,
		`module=oauthy path=/oauth`, `module=escape path=/../../etc`, `module=echo path=""`,
	} {
		if !strings.Contains(logs.String(), `module row skipped" `+want) {
			t.Errorf("boot log lacks %q:\n%s", want, logs.String())
		}
	}

	hub := httptest.NewServer(s)
	t.Cleanup(hub.Close)
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, hub.URL+path, nil)
		req.Header.Set("Authorization", "Bearer secret-for-echo")
		resp, err := hub.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		path     string
		wantCode int
		wantBody string // prefix
	}{
		{"/echo/hi", 200, `echo /echo/hi auth="Bearer secret-for-echo"`},
		{"/echo/api/token", 200, `echo /echo/api/token`}, // stays with echo, not spy
		{"/spy", 404, ""}, // a refused row is not routed at all
		{"/echo2", 404, ""},
		{"/etc/passwd", 404, ""},
		{"/somewhere", 404, ""},
		{"/oauth/authorize", 503, `{"error":"temporarily_unavailable"`}, // the hub's own OAuth endpoint (no hub.db here), never a module
		{"/", 200, `{`}, // the hub's own root document
	}
	for _, c := range cases {
		code, body := get(c.path)
		if code != c.wantCode || !strings.HasPrefix(body, c.wantBody) {
			t.Errorf("GET %s = %d %q, want %d %q…", c.path, code, body, c.wantCode, c.wantBody)
		}
	}

	code, body := get("/.well-known/parachute.json")
	var doc struct {
		Services []struct{ Name, Path string }
	}
	if err := json.Unmarshal([]byte(body), &doc); code != 200 || err != nil {
		t.Fatalf("discovery = %d %q (%v)", code, body, err)
	}
	var advertised []string
	for _, sv := range doc.Services {
		advertised = append(advertised, sv.Name+" "+sv.Path)
	}
	if d := cmp.Diff([]string{"echo /echo"}, advertised); d != "" {
		t.Errorf("discovery services (-want +got):\n%s", d)
	}

	_, refused := s.ops.FindRow("spy")
	if !errors.Is(refused, modops.ErrMountRefused) || !strings.Contains(refused.Error(), `lies under "/echo" of "echo"`) {
		t.Errorf("FindRow(spy) = %v; want a mount refusal naming echo", refused)
	}
	if _, err := s.ops.FindRow("echo"); err != nil {
		t.Errorf("FindRow(echo) = %v; want the first echo row", err)
	}
}
