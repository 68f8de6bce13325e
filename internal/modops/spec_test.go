package modops

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

func TestChildEnv(t *testing.T) {
	var ignored, overridden []string
	got := childEnv(
		[]string{"PATH=/bin", "PORT=1939", "NOTIFY_SOCKET=/run/x", "PARACHUTE_HUB_ORIGIN=http://stale",
			"PARACHUTE_INITIAL_ADMIN_USERNAME=owner", "PARACHUTE_INITIAL_ADMIN_PASSWORD=hunter2hunter2", "CLOUDFLARE_API_TOKEN=cf"},
		1940, "https://live",
		[]manifest.EnvVar{{Key: "SCRIBE_URL", Value: "http://127.0.0.1:3200"}, {Key: "PORT", Value: "9999"}},
		func(k string) { ignored = append(ignored, k) },
		func(v string) { overridden = append(overridden, v) },
	)
	want := []string{"PATH=/bin", "PORT=1940", "PARACHUTE_HUB_ORIGIN=https://live", "SCRIBE_URL=http://127.0.0.1:3200"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("childEnv (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"PORT"}, ignored); d != "" {
		t.Errorf("ignored keys (-want +got):\n%s", d)
	}
	if len(overridden) != 0 {
		t.Errorf("overridden without a .env origin: %q", overridden)
	}
}

// A module's .env PARACHUTE_HUB_ORIGIN is honoured with a warning (it was
// dropped silently before issue 11); one equal to the issuer (up to a
// trailing slash) is honoured without one.
func TestChildEnvHonoursDotenvHubOrigin(t *testing.T) {
	for _, c := range []struct {
		name, dotenv, want string
		warned             bool
	}{
		{"differs: honoured and reported", "https://vault.example.com", "https://vault.example.com", true},
		{"same as issuer: quiet", "https://live/", "https://live/", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var overridden []string
			got := childEnv([]string{"PATH=/bin"}, 1940, "https://live",
				[]manifest.EnvVar{{Key: "PARACHUTE_HUB_ORIGIN", Value: c.dotenv}},
				func(k string) { t.Errorf("ignored %s", k) },
				func(v string) { overridden = append(overridden, v) })
			if d := cmp.Diff([]string{"PATH=/bin", "PORT=1940", "PARACHUTE_HUB_ORIGIN=" + c.want}, got); d != "" {
				t.Errorf("childEnv (-want +got):\n%s", d)
			}
			if (len(overridden) == 1) != c.warned {
				t.Errorf("overridden = %q, want warned=%v", overridden, c.warned)
			}
		})
	}
}

// Through BuildSpec: the .env value reaches the child's environment, the
// warning names the file, the value and the hub's origin, and the issuer
// is asked at build time (IssuerFunc), so a restart after `expose` gets the
// new origin.
func TestBuildSpecHonoursDotenvHubOriginWithWarning(t *testing.T) {
	root := t.TempDir()
	p := config.Paths{Root: root}
	if err := os.MkdirAll(filepath.Dir(p.ModuleEnv("envmod")), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.ModuleEnv("envmod"), []byte("PARACHUTE_HUB_ORIGIN=https://vault.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	install := t.TempDir()
	if err := os.MkdirAll(filepath.Join(install, ".parachute"), 0o700); err != nil {
		t.Fatal(err)
	}
	mod, _ := json.Marshal(map[string]any{"name": "envmod", "port": 0, "startCmd": []string{"/bin/true"}})
	if err := os.WriteFile(manifest.ModulePath(install), mod, 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := "http://127.0.0.1:1939"
	m := New(Options{Paths: p, IssuerFunc: func() string { return issuer }})
	defer m.Shutdown(context.Background())
	issuer = "https://box.tail1.ts.net"
	spec, warns, err := m.BuildSpec(manifest.Service{Name: "envmod", Port: 2000, InstallDir: install})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(spec.Env, "PARACHUTE_HUB_ORIGIN=https://vault.example.com") {
		t.Errorf("child env lacks the .env origin: %q", spec.Env)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], p.ModuleEnv("envmod")) ||
		!strings.Contains(warns[0], "https://vault.example.com") || !strings.Contains(warns[0], "https://box.tail1.ts.net") {
		t.Errorf("warnings = %q", warns)
	}
}
