package manifest

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseModule(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    *Module // checked when non-nil
		wantErr string  // substring; "" means success
	}{
		{
			name: "full",
			json: `{"name":"weather","manifestName":"parachute-weather","displayName":"Weather","tagline":"Rain?",
				"port":1950,"paths":["/weather"],"health":"/weather/health","startCmd":["bun","server.ts","--x"],
				"managementUrl":"/admin","uiUrl":"https://example.com/w","stripPrefix":true,
				"scopes":{"defines":["weather:read"]},"dependencies":{"vault":{"optional":true,"scopes":["vault:read"]}},
				"configSchema":{"type":"object","properties":{}},"focus":"experimental"}`,
			want: &Module{
				Name: "weather", ManifestName: "parachute-weather", DisplayName: "Weather", Tagline: "Rain?",
				Port: 1950, Paths: []string{"/weather"}, Health: "/weather/health",
				StartCmd: []string{"bun", "server.ts", "--x"}, ManagementURL: "/admin", UIURL: "https://example.com/w",
				StripPrefix: ptr(true), Scopes: &ModuleScopes{Defines: []string{"weather:read"}},
				Dependencies: map[string]ModuleDependency{"vault": {Optional: true, Scopes: []string{"vault:read"}}},
				ConfigSchema: []byte(`{"type":"object","properties":{}}`),
				Extra:        map[string]json.RawMessage{"focus": json.RawMessage(`"experimental"`)},
			},
		},
		{name: "minimal", json: `{"name":"m"}`, want: &Module{Name: "m"}},
		{name: "port 0 means unassigned", json: `{"name":"m","port":0}`},
		{name: "startCmd as a string", json: `{"name":"m","startCmd":"bun server.ts"}`,
			wantErr: "startCmd must be an array of strings (argv), got a string"},
		{name: "empty startCmd", json: `{"name":"m","startCmd":[]}`, wantErr: "startCmd must be a non-empty array"},
		{name: "empty argv element", json: `{"name":"m","startCmd":["bun",""]}`, wantErr: "startCmd[1] must be a non-empty string"},
		{name: "non-string argv element", json: `{"name":"m","startCmd":["bun",1]}`, wantErr: "startCmd[1] must be a string, got a number"},
		{name: "missing name", json: `{"port":1950}`, wantErr: "name is required"},
		{name: "unsafe name", json: `{"name":"../etc"}`, wantErr: `name must be lowercase letters`},
		{name: "capital name", json: `{"name":"Weather"}`, wantErr: `name must be lowercase letters`},
		{name: "port out of range", json: `{"name":"m","port":65536}`, wantErr: "port must be 0 (unassigned) or 1..65535, got 65536"},
		{name: "relative path", json: `{"name":"m","paths":["/a","b"]}`, wantErr: `paths[1] is refused (invalid mount path "b": must start with "/")`},
		{name: "root path", json: `{"name":"m","paths":["/"]}`, wantErr: `paths[0] is refused (reserved mount path "/"`},
		{name: "hub api path", json: `{"name":"m","paths":["/m","/api"]}`, wantErr: `paths[1] is refused (reserved mount path "/api": /api is the hub's API); mount the module on a path of its own, e.g. "/m"`},
		{name: "under hub health", json: `{"name":"m","paths":["/health/x"]}`, wantErr: `paths[0] is refused (reserved mount path "/health/x"`},
		{name: "well-known", json: `{"name":"m","paths":["/.well-known"]}`, wantErr: `paths[0] is refused (reserved`},
		{name: "dotdot path", json: `{"name":"m","paths":["/../../etc"]}`, wantErr: `paths[0] is refused (invalid mount path "/../../etc": not in canonical form`},
		{name: "NUL in path", json: `{"name":"m","paths":["/m\u0000"]}`, wantErr: `paths[0] is refused (invalid mount path`},
		{name: "trailing slash", json: `{"name":"m","paths":["/m/"]}`, wantErr: `write "/m"`},
		{name: "third party under /vault", json: `{"name":"m","paths":["/vault/default/x"]}`, wantErr: `paths[0] is refused (reserved mount path "/vault/default/x": /vault belongs to vault instances`},
		{name: "vault under /vault", json: `{"name":"vault","paths":["/vault/default"]}`},
		{name: "shared marker", json: `{"name":"runner","paths":["/runner","/.parachute"]}`},
		{name: "relative health", json: `{"name":"m","health":"health"}`, wantErr: `health must start with "/"`},
		{name: "protocol-relative uiUrl", json: `{"name":"m","uiUrl":"//evil.example"}`, wantErr: "uiUrl must be a path"},
		{name: "javascript managementUrl", json: `{"name":"m","managementUrl":"javascript:alert(1)"}`, wantErr: "managementUrl must be a path"},
		{name: "foreign scope", json: `{"name":"m","scopes":{"defines":["vault:read"]}}`, wantErr: `scopes.defines[0] must be "m:<verb>"`},
		{name: "bad dependency", json: `{"name":"m","dependencies":{"vault":{"optional":"yes"}}}`, wantErr: `dependencies["vault"].optional must be true or false`},
		{name: "configSchema not an object", json: `{"name":"m","configSchema":[]}`, wantErr: "configSchema must be an object"},
		{name: "invalid JSON", json: "{\n\"name\": }", wantErr: "invalid JSON at line 2, column 9"},
		{name: "not an object", json: `["m"]`, wantErr: "top level must be an object, got an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseModule([]byte(tt.json), "/x/.parachute/module.json")
			if tt.wantErr != "" {
				var me *ManifestError
				if !errors.As(err, &me) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseModule error = %v, want a *ManifestError containing %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "/x/.parachute/module.json: ") {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseModule: %v", err)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, m); diff != "" {
					t.Errorf("ParseModule (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadModule(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadModule(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadModule(no file) error = %v, want fs.ErrNotExist", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ModulePath(dir), []byte(`{"name":"m","startCmd":["./bin/m"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LoadModule(dir)
	if err != nil {
		t.Fatalf("LoadModule: %v", err)
	}
	if diff := cmp.Diff([]string{"./bin/m"}, m.StartCmd); diff != "" {
		t.Errorf("StartCmd (-want +got):\n%s", diff)
	}
}
