package hub

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/supervisor"
)

// A module (re)started after `parachute expose` wrote expose-state.json
// gets the exposed origin as PARACHUTE_HUB_ORIGIN, without a hub restart;
// after `expose off` it gets loopback again. The hub reads the file the
// way run.go wires it (state.Watcher behind Origins.Exposed).
func TestModuleOriginFollowsExposeState(t *testing.T) {
	root := t.TempDir()
	p := config.Paths{Root: root}
	install := t.TempDir()
	if err := os.MkdirAll(filepath.Join(install, ".parachute"), 0o700); err != nil {
		t.Fatal(err)
	}
	mod, _ := json.Marshal(map[string]any{"name": "vault", "port": 0, "startCmd": []string{"/bin/true"}})
	if err := os.WriteFile(manifest.ModulePath(install), mod, 0o600); err != nil {
		t.Fatal(err)
	}
	origins := Origins{Port: 1939, Exposed: state.NewWatcher(root).Origins}
	sup := supervisor.New(supervisor.Options{})
	s := New(Options{Paths: p, Supervisor: sup, Origins: origins})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.ShutdownOps(ctx); err != nil {
			t.Errorf("ShutdownOps: %v", err)
		}
		if err := sup.Shutdown(ctx); err != nil {
			t.Errorf("supervisor Shutdown: %v", err)
		}
	})
	originOf := func() string {
		t.Helper()
		spec, _, err := s.ops.BuildSpec(manifest.Service{Name: "parachute-vault", Port: 1940, InstallDir: install})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(spec.Env, func(kv string) bool { return len(kv) > 21 && kv[:21] == "PARACHUTE_HUB_ORIGIN=" })
		if i < 0 {
			t.Fatalf("no PARACHUTE_HUB_ORIGIN in %q", spec.Env)
		}
		return spec.Env[i][21:]
	}
	if got := originOf(); got != "http://127.0.0.1:1939" {
		t.Fatalf("before expose: %q", got)
	}
	rec := &state.Record{Version: 1, Layer: state.LayerTailnet, Mode: "path", CanonicalFQDN: "box.tail1234.ts.net", Port: 443,
		Entries: []state.Entry{{Kind: "proxy", Mount: "/", Target: "http://127.0.0.1:1939/", Service: "hub"}}}
	if err := state.Save(root, &state.State{Providers: map[state.Provider]*state.Record{state.Tailscale: rec}}); err != nil {
		t.Fatal(err)
	}
	if got := originOf(); got != "https://box.tail1234.ts.net" {
		t.Fatalf("after expose: %q", got)
	}
	if err := state.Save(root, &state.State{Providers: map[state.Provider]*state.Record{}}); err != nil {
		t.Fatal(err)
	}
	if got := originOf(); got != "http://127.0.0.1:1939" {
		t.Fatalf("after expose off: %q", got)
	}
}
