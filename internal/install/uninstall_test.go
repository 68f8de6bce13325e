package install

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/manifest"
)

// TestUninstallVaultInstances checks Uninstall's steps on a module with
// several rows: every vault row goes (the main row and its instances),
// only the main row's install directory is considered for removal, and
// other modules' rows stay.
func TestUninstallVaultInstances(t *testing.T) {
	ctx := context.Background()
	rt := &fakeRuntime{}
	in, paths, _ := newTestInstaller(t, rt, nil, nil)
	rt.paths = paths
	mainDir, instDir := t.TempDir(), t.TempDir() // linked: parachute did not install them
	for _, row := range []manifest.Service{
		{Name: "parachute-vault", Port: 1940, Paths: []string{"/vault/default"}, Health: "/vault/default/health", Version: "1.0.0", InstallDir: mainDir},
		{Name: "echo", Port: 4000, Paths: []string{"/echo"}, Health: "/echo/health", Version: "0.1.0"},
		{Name: "parachute-vault-work", Port: 1950, Paths: []string{"/vault/work"}, Health: "/vault/work/health", Version: "1.0.0", InstallDir: instDir},
	} {
		if err := manifest.Upsert(paths.ServicesJSON(), row); err != nil {
			t.Fatal(err)
		}
	}
	res, err := in.Uninstall(ctx, UninstallRequest{Short: "vault"})
	if err != nil {
		t.Fatal(err)
	}
	want := &UninstallResult{Short: "vault", Rows: []string{"parachute-vault", "parachute-vault-work"}, KeptDir: mainDir}
	if d := cmp.Diff(want, res); d != "" {
		t.Errorf("result (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"stop vault"}, rt.Events()); d != "" {
		t.Errorf("runtime events (-want +got):\n%s", d)
	}
	f, err := manifest.Load(paths.ServicesJSON())
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, s := range f.Services {
		left = append(left, s.Name)
	}
	if d := cmp.Diff([]string{"echo"}, left); d != "" {
		t.Errorf("rows left (-want +got):\n%s", d)
	}
}
