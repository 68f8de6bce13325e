package migrate

import (
	"context"
	"os"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

// TestVerifyModulesSkipsRefusedRows: a row the hub refuses to start (its
// mount is the hub's /api) must not make the cutover wait for it and fail.
func TestVerifyModulesSkipsRefusedRows(t *testing.T) {
	paths := config.Paths{Root: t.TempDir()}
	f := &manifest.File{Services: []manifest.Service{
		{Name: "web", Port: 2011, Paths: []string{"/web"}, Health: "/web/health", Version: "1.0.0"},
		{Name: "api", Port: 2012, Paths: []string{"/api"}, Health: "/api/health", Version: "1.0.0"},
	}}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths.ServicesJSON(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Cutover{Paths: paths, Grace: -1, // no waiting: one look at the states
		Modules: func(context.Context) (map[string]string, error) { return map[string]string{"web": "ready"}, nil }}
	if err := c.verifyModules(context.Background()); err != nil {
		t.Fatalf("verifyModules = %v, want nil (api is refused by the hub, never started)", err)
	}
	c.Modules = func(context.Context) (map[string]string, error) { return map[string]string{}, nil }
	if err := c.verifyModules(context.Background()); err == nil {
		t.Fatal("verifyModules = nil with web not ready; the test is vacuous")
	}
}
