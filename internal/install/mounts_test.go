package install

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/mounts"
)

// TestInstallRefusesMountConflicts installs modules next to an installed
// "echo" (mounted on /echo) and a vault row: a mount that shadows another
// module or the hub is refused before services.json changes, with an error
// naming the module it collides with and what to run; rows of one module
// may nest, and a neighbour's own bad row does not block an install.
func TestInstallRefusesMountConflicts(t *testing.T) {
	ctx := context.Background()
	in, paths, _ := newTestInstaller(t, nil, fakePorts{}, nil)
	base := t.TempDir()
	mod := func(name, raw string) string {
		return writeModule(t, filepath.Join(base, name), fixture{pkg: name, version: "1.0.0", raw: raw})
	}
	if _, err := in.Install(ctx, Request{Source: mod("echo", `{"name":"echo","paths":["/echo"]}`)}); err != nil {
		t.Fatal(err)
	}
	vault := manifest.Service{Name: "parachute-vault", Port: 1940, Paths: []string{"/vault/default"}, Health: "/vault/default/health", Version: "1.0.0"}
	if err := manifest.Upsert(paths.ServicesJSON(), vault); err != nil {
		t.Fatal(err)
	}

	refused := []struct {
		name, raw string
		wantIs    []error
		wantErr   []string
		wantType  api.ErrorCode
	}{
		{name: "sub-path of another module", raw: `{"name":"spy","paths":["/spy","/echo/api"]}`,
			wantIs: []error{ErrMountConflict, mounts.ErrOverlap}, wantType: "mount_conflict",
			wantErr: []string{`cannot install spy`, `mount "/echo/api" lies under "/echo" of "echo"`,
				`give spy a path of its own`, `parachute uninstall echo`}},
		{name: "parent of another module", raw: `{"name":"outer","paths":["/echo-outer","/echo"]}`,
			wantIs: []error{ErrMountConflict, mounts.ErrOverlap}, wantType: "mount_conflict",
			wantErr: []string{`mount "/echo" is the same as "/echo" of "echo"`}},
		{name: "root", raw: `{"name":"rooted","paths":["/"]}`, wantType: "invalid_manifest",
			wantErr: []string{"module.json", `paths[0] is refused (reserved mount path "/"`}},
		{name: "hub api", raw: `{"name":"apis","paths":["/api"]}`, wantType: "invalid_manifest",
			wantErr: []string{`paths[0] is refused (reserved mount path "/api": /api is the hub's API)`}},
		{name: "under hub health", raw: `{"name":"hx","paths":["/health/x"]}`, wantType: "invalid_manifest",
			wantErr: []string{`reserved mount path "/health/x"`}},
		{name: "well-known", raw: `{"name":"wk","paths":["/.well-known"]}`, wantType: "invalid_manifest"},
		{name: "path traversal", raw: `{"name":"esc","paths":["/../../etc"]}`, wantType: "invalid_manifest",
			wantErr: []string{`not in canonical form`}},
		{name: "NUL", raw: `{"name":"nul","paths":["/nul\u0000"]}`, wantType: "invalid_manifest"},
		{name: "under a vault", raw: `{"name":"squat","paths":["/vault/default/mcp"]}`, wantType: "invalid_manifest",
			wantErr: []string{`/vault belongs to vault instances`}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := in.Install(ctx, Request{Source: mod(tc.name, tc.raw)})
			wantErrContains(t, err, tc.wantErr...)
			for _, is := range tc.wantIs {
				if !errors.Is(err, is) {
					t.Errorf("err = %v, want errors.Is %v", err, is)
				}
			}
			if got := ErrorType(err); got != tc.wantType {
				t.Errorf("ErrorType = %q, want %q", got, tc.wantType)
			}
			if d := cmp.Diff([]string{"echo", "parachute-vault"}, rowNames(t, paths)); d != "" {
				t.Errorf("rows after a refused install (-want +got):\n%s", d)
			}
		})
	}

	t.Run("a module may nest its own mounts, and a neighbour's mount is fine", func(t *testing.T) {
		if _, err := in.Install(ctx, Request{Source: mod("echo", `{"name":"echo","paths":["/echo","/echo/v2"]}`)}); err != nil {
			t.Fatalf("reinstalling echo with a nested mount: %v", err)
		}
		if _, err := in.Install(ctx, Request{Source: mod("echo2", `{"name":"echo2","paths":["/echo2"]}`)}); err != nil {
			t.Fatalf("installing echo2 next to echo: %v", err)
		}
	})

	t.Run("another row's problem is not this install's", func(t *testing.T) {
		bad := manifest.Service{Name: "rooted", Port: 4999, Paths: []string{"/"}, Health: "/health", Version: "1.0.0"}
		if err := manifest.Upsert(paths.ServicesJSON(), bad); err != nil {
			t.Fatal(err)
		}
		if _, err := in.Install(ctx, Request{Source: mod("fine", `{"name":"fine","paths":["/fine"]}`)}); err != nil {
			t.Fatalf("install next to a refused row: %v", err)
		}
	})
}
