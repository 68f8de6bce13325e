package connector

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/expose/state"
)

// plantLegacy writes the TypeScript hub's cloudflared-state.json
// recording pid as tunnel's connector.
func (h *harness) plantLegacy(tunnel string, pid int) {
	h.t.Helper()
	b, _ := json.Marshal(map[string]any{"version": 2, "tunnels": map[string]any{tunnel: map[string]any{
		"pid": pid, "tunnelUuid": exposetest.TunnelID, "tunnelName": tunnel, "hostname": tunnel + ".example.com",
		"startedAt": "2026-01-01T00:00:00.000Z", "configPath": filepath.Join(h.root, "cloudflared", tunnel, "config.yml")}}})
	if err := os.WriteFile(filepath.Join(h.root, state.LegacyTunnelsFile), b, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// TestHubBootStopsThePreviousHubsConnector: a box moved from the
// TypeScript hub, its detached connector of the tunnel still running,
// boots our hub with a "connector":"hub" record: the old connector is
// stopped and exactly one (the hub's) runs; the reference's record is
// taken over.
func TestHubBootStopsThePreviousHubsConnector(t *testing.T) {
	h := newHarness(t)
	h.expose("t1")
	old := exposetest.StartPrevious(t, filepath.Join(h.root, "cloudflared", "t1", "config.yml"))
	h.plantLegacy("t1", old)
	if diff := cmp.Diff([]int{old}, h.connectors()); diff != "" {
		t.Fatalf("connectors before the hub (-want +got):\n%s", diff)
	}
	h.start()
	h.waitPass("cloudflared-t1")
	ours := h.waitStarted()
	if diff := cmp.Diff([]int{ours}, h.connectors()); diff != "" {
		t.Errorf("connectors after boot (-want +got):\n%s", diff)
	}
	if exposetest.Running(old) {
		t.Errorf("the previous hub's connector %d still runs", old)
	}
	if _, err := os.Stat(filepath.Join(h.root, state.LegacyTunnelsFile)); !os.IsNotExist(err) {
		t.Errorf("cloudflared-state.json kept: %v", err)
	}
}

// TestHubBootSparesAReusedPid: the pid the previous hub recorded now runs
// an unrelated program; the hub leaves it alone.
func TestHubBootSparesAReusedPid(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	h := newHarness(t) // narrows PATH to the fakes
	if err != nil {
		t.Skip("no sleep(1)")
	}
	cmd := exec.Command(sleep, "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	h.expose("t1")
	h.plantLegacy("t1", cmd.Process.Pid)
	h.start()
	h.waitPass("cloudflared-t1")
	ours := h.waitStarted()
	if diff := cmp.Diff([]int{ours}, h.connectors()); diff != "" {
		t.Errorf("connectors after boot (-want +got):\n%s", diff)
	}
	if !exposetest.Running(cmd.Process.Pid) {
		t.Errorf("sleep (pid %d, reusing the recorded pid) was killed", cmd.Process.Pid)
	}
}

// TestHubBootStopsAnOrphanConnector: a connector of the tunnel no record
// names (the reference lost track of it) is stopped at boot as well.
func TestHubBootStopsAnOrphanConnector(t *testing.T) {
	h := newHarness(t)
	h.expose("t1")
	orphan := exposetest.StartPrevious(t, filepath.Join(h.root, "cloudflared", "t1", "config.yml"))
	h.start()
	h.waitPass("cloudflared-t1")
	ours := h.waitStarted()
	if diff := cmp.Diff([]int{ours}, h.connectors()); diff != "" {
		t.Errorf("connectors after boot (-want +got):\n%s", diff)
	}
	if exposetest.Running(orphan) {
		t.Errorf("the orphan connector %d still runs", orphan)
	}
}
