package hub

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/supervisor"
	"github.com/openparachute/parachute/internal/testenv"
)

// A hub running as root with a world-writable config root starts no module
// from it, and its log says which chmod fixes that.
func TestBootRefusesWorldWritableRootAsRoot(t *testing.T) {
	testenv.NeedRoot(t, "the refusal applies to a hub running as root")
	p := config.Paths{Root: t.TempDir()}
	if err := os.Chmod(p.Root, 0o777); err != nil {
		t.Fatal(err)
	}
	svc, _ := json.Marshal(map[string]any{"services": []any{map[string]any{
		"name": "parachute-vault", "port": freePort(t), "paths": []string{"/vault/default"},
		"health": "/vault/default/health", "version": "1.0.0",
	}}})
	if err := os.WriteFile(p.ServicesJSON(), svc, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
	sup := supervisor.New(supervisor.Options{})
	t.Cleanup(func() { _ = sup.Shutdown(context.Background()) })
	s := New(Options{Paths: p, Supervisor: sup, Origins: Origins{Port: 1939},
		Logger: slog.New(slog.NewTextHandler(logs, nil))})

	s.ops.Boot(context.Background())

	if list := sup.List(); len(list) != 0 {
		t.Fatalf("boot started %d module(s) from a world-writable root: %+v", len(list), list)
	}
	if want := "chmod o-w " + p.Root; !strings.Contains(logs.String(), want) {
		t.Fatalf("log does not say %q:\n%s", want, logs.String())
	}
	// The same refusal guards every other way a module starts.
	if _, _, err := s.ops.BuildSpec(manifest.Service{Name: "parachute-vault", Port: 1940}); err == nil {
		t.Fatal("buildSpec accepted a world-writable root")
	}
}
