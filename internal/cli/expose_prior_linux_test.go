package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/expose/state"
)

// TestExposeCloudflareStopsThePreviousHubsConnector: a box moved from the
// TypeScript hub still runs that hub's detached connector of the tunnel
// (cloudflared-state.json records its pid). `expose cloudflare` stops it,
// says so, and the hub's connector is then the only one running.
func TestExposeCloudflareStopsThePreviousHubsConnector(t *testing.T) {
	const name = "parachute-hub-example-com"
	_, root, h := exposeEnv(t, false, "")
	cloudflaredLogin(t)
	cfg := filepath.Join(root, "cloudflared", name, "config.yml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	old := exposetest.StartPrevious(t, cfg)
	b, _ := json.Marshal(map[string]any{"version": 2, "tunnels": map[string]any{name: map[string]any{
		"pid": old, "tunnelUuid": exposetest.TunnelID, "tunnelName": name, "hostname": "hub.example.com",
		"startedAt": "2026-01-01T00:00:00.000Z", "configPath": cfg}}})
	if err := os.WriteFile(filepath.Join(root, state.LegacyTunnelsFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	started := regexp.MustCompile(`^\[cloudflared-` + name + `\] INF Starting tunnel config=\S+ pid=(\d+)$`)
	mark := h.out.mark()
	code, out, errOut := runCLI(t, "expose", "cloudflare", "--domain", "hub.example.com")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		fmt.Sprintf("✓ Stopped the previous hub's cloudflared connector (pid %d, tunnel %q).", old, name),
		"✓ Took over " + name + " from the previous hub's cloudflared-state.json.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	m, _ := h.out.wait(t, mark, started)
	ours, _ := strconv.Atoi(m[1])
	if got := connectorPIDs(t, root); !slices.Equal(got, []int{ours}) {
		t.Errorf("connectors running: %v, want only the hub's [%d] (the previous one was %d)", got, ours, old)
	}
	// Nothing of the previous hub is left to report.
	if _, out, _ := runCLI(t, "status"); strings.Contains(out, "previous hub") {
		t.Errorf("status still reports the previous hub's tunnel:\n%s", out)
	}
}
