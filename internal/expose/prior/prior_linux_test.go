package prior

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/expose/state"
)

const uuid = exposetest.TunnelID

// plant writes the reference's cloudflared-state.json v2 under root.
func plant(t *testing.T, root string, recs ...state.LegacyTunnel) {
	t.Helper()
	tunnels := map[string]any{}
	for _, r := range recs {
		tunnels[r.Name] = map[string]any{"pid": r.PID, "tunnelUuid": r.UUID, "tunnelName": r.Name, "hostname": r.Hostname,
			"startedAt": "2026-01-01T00:00:00.000Z", "configPath": r.ConfigPath}
	}
	b, _ := json.Marshal(map[string]any{"version": 2, "tunnels": tunnels})
	if err := os.WriteFile(filepath.Join(root, state.LegacyTunnelsFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// box is a config root with a tunnel's directory and the fake on PATH.
func box(t *testing.T, name string) (root, cfg string) {
	t.Helper()
	exposetest.Install(t)
	root = t.TempDir()
	dir := filepath.Join(root, "cloudflared", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return root, filepath.Join(dir, "config.yml")
}

// sleeper is an unrelated process of ours; cleanup ends it.
func sleeper(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(sleepPath, "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

func fast() Options {
	return Options{Grace: 5 * time.Second, Poll: 5 * time.Millisecond, Orphans: true}
}

// TestStopEndsThePreviousHubsConnector: the reference's recorded
// connector of the tunnel is stopped, and what it said is one line.
func TestStopEndsThePreviousHubsConnector(t *testing.T) {
	root, cfg := box(t, "parachute-hub-example-com")
	pid := exposetest.StartPrevious(t, cfg)
	plant(t, root, state.LegacyTunnel{PID: pid, UUID: uuid, Name: "parachute-hub-example-com", Hostname: "hub.example.com", ConfigPath: cfg})
	if got := exposetest.Connectors(t, cfg); !slices.Equal(got, []int{pid}) {
		t.Fatalf("before: connectors %v, want [%d]", got, pid)
	}
	o := fast()
	o.Root = root
	out, err := Stop(context.Background(), o, Target{Name: "parachute-hub-example-com", UUID: uuid, Hostname: "hub.example.com", ConfigPath: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || !out[0].Stopped || !out[0].Taken || !strings.Contains(out[0].Message, "Stopped the previous hub's cloudflared connector") {
		t.Fatalf("outcomes %+v", out)
	}
	if got := exposetest.Connectors(t, cfg); len(got) != 0 {
		t.Fatalf("after: connectors %v still run", got)
	}
}

// TestStopSIGKILLsAConnectorDeafToSIGTERM: past the grace period the
// connector gets SIGKILL.
func TestStopSIGKILLsAConnectorDeafToSIGTERM(t *testing.T) {
	root, cfg := box(t, "t")
	exposetest.Write(t, os.Getenv("FAKE_DIR"), "ignore-sigterm", "")
	pid := exposetest.StartPrevious(t, cfg)
	plant(t, root, state.LegacyTunnel{PID: pid, UUID: uuid, Name: "t", Hostname: "t.example.com", ConfigPath: cfg})
	o := fast()
	o.Root, o.Grace = root, 50*time.Millisecond
	out, err := Stop(context.Background(), o, Target{Name: "t", ConfigPath: cfg})
	if err != nil || len(out) != 1 || !out[0].Stopped {
		t.Fatalf("outcomes %+v, err %v", out, err)
	}
	if exposetest.Running(pid) {
		t.Fatalf("pid %d still runs", pid)
	}
}

// TestStopSparesWhatIsNotThePreviousConnector: a recorded pid now held by
// an unrelated program, by this hub's connector (a spared pid or a child
// of the hub), or a record of another tunnel is never signalled.
func TestStopSparesWhatIsNotThePreviousConnector(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, o *Options, cfg string) (pid int, taken bool)
	}{
		{"pid reused by an unrelated process", func(t *testing.T, o *Options, cfg string) (int, bool) {
			return sleeper(t), true
		}},
		{"our connector unit's main process", func(t *testing.T, o *Options, cfg string) (int, bool) {
			pid := exposetest.StartPrevious(t, cfg)
			o.Spare = []int{pid}
			return pid, true
		}},
		{"the hub's own connector child", func(t *testing.T, o *Options, cfg string) (int, bool) {
			cmd := exec.Command("cloudflared", "tunnel", "--config", cfg, "run")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			o.SpareChildrenOf = []int{os.Getpid()}
			return cmd.Process.Pid, true
		}},
		{"a pid it cannot inspect", func(t *testing.T, o *Options, cfg string) (int, bool) {
			o.Inspect = func(context.Context, int) (Process, error) { return Process{}, os.ErrPermission }
			return exposetest.StartPrevious(t, cfg), false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, cfg := box(t, "t")
			o := fast()
			o.Root = root
			pid, taken := tc.setup(t, &o, cfg)
			plant(t, root, state.LegacyTunnel{PID: pid, UUID: uuid, Name: "t", Hostname: "t.example.com", ConfigPath: cfg})
			out, _ := Stop(context.Background(), o, Target{Name: "t", ConfigPath: cfg})
			if len(out) != 1 || out[0].Stopped || out[0].Taken != taken {
				t.Fatalf("outcomes %+v", out)
			}
			if !exposetest.Running(pid) {
				t.Fatalf("pid %d was killed: %s", pid, out[0].Message)
			}
		})
	}
	t.Run("another tunnel's connector", func(t *testing.T) {
		root, cfg := box(t, "other")
		pid := exposetest.StartPrevious(t, cfg)
		plant(t, root, state.LegacyTunnel{PID: pid, UUID: "11111111-2222-3333-4444-555555555555", Name: "other", Hostname: "other.example.com", ConfigPath: cfg})
		o := fast()
		o.Root = root
		out, err := Stop(context.Background(), o, Target{Name: "t", UUID: uuid, Hostname: "t.example.com", ConfigPath: filepath.Join(root, "cloudflared", "t", "config.yml")})
		if err != nil || len(out) != 0 || !exposetest.Running(pid) {
			t.Fatalf("outcomes %+v, err %v, running %v", out, err, exposetest.Running(pid))
		}
	})
}

// TestStopMigratesTheSharedTunnel: the reference's shared "parachute"
// tunnel serving the hostname is the previous connector of the dedicated
// tunnel that replaces it (reference §6.8 legacy migration).
func TestStopMigratesTheSharedTunnel(t *testing.T) {
	root, cfg := box(t, "parachute")
	pid := exposetest.StartPrevious(t, cfg)
	plant(t, root, state.LegacyTunnel{PID: pid, UUID: "11111111-2222-3333-4444-555555555555", Name: "parachute", Hostname: "hub.example.com", ConfigPath: cfg})
	o := fast()
	o.Root = root
	out, err := Stop(context.Background(), o, Target{Name: "parachute-hub-example-com", UUID: uuid, Hostname: "HUB.example.com",
		ConfigPath: filepath.Join(root, "cloudflared", "parachute-hub-example-com", "config.yml")})
	if err != nil || len(out) != 1 || !out[0].Stopped {
		t.Fatalf("outcomes %+v, err %v", out, err)
	}
	if exposetest.Running(pid) {
		t.Fatalf("pid %d still runs", pid)
	}
}

// TestStopWithoutARecord: no cloudflared-state.json, nothing to do; a
// record of a connector that is gone is taken over.
func TestStopWithoutARecord(t *testing.T) {
	root, cfg := box(t, "t")
	o := fast()
	o.Root = root
	if out, err := Stop(context.Background(), o, Target{Name: "t", ConfigPath: cfg}); err != nil || out != nil {
		t.Fatalf("no file: %+v %v", out, err)
	}
	plant(t, root, state.LegacyTunnel{PID: 0x3fffffff, UUID: uuid, Name: "t", Hostname: "t.example.com", ConfigPath: cfg})
	out, err := Stop(context.Background(), o, Target{Name: "t", ConfigPath: cfg})
	if err != nil || len(out) != 1 || out[0].Stopped || !out[0].Taken || !strings.Contains(out[0].Message, "no longer running") {
		t.Fatalf("gone: %+v %v", out, err)
	}
}

// TestStopEndsOrphans: a connector of the tunnel no record names (the
// reference lost track of it, hub#487) is stopped too; another tunnel's,
// and the hub's own child, are not.
func TestStopEndsOrphans(t *testing.T) {
	root, cfg := box(t, "t")
	orphan := exposetest.StartPrevious(t, cfg)
	otherCfg := filepath.Join(root, "cloudflared", "other", "config.yml")
	other := exposetest.StartPrevious(t, otherCfg)
	child := exec.Command("cloudflared", "tunnel", "--config", cfg, "run")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	o := fast()
	o.Root, o.SpareChildrenOf = root, []int{os.Getpid()}
	out, err := Stop(context.Background(), o, Target{Name: "t", UUID: uuid, ConfigPath: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || !out[0].Orphan || !out[0].Stopped || out[0].Tunnel.PID != orphan ||
		out[0].Message != fmt.Sprintf("Stopped an orphan cloudflared connector of tunnel \"t\" (pid %d).", orphan) {
		t.Fatalf("outcomes %+v", out)
	}
	if got := exposetest.Connectors(t, cfg); !slices.Equal(got, []int{child.Process.Pid}) {
		t.Errorf("connectors of t: %v, want only the hub's child %d", got, child.Process.Pid)
	}
	if !exposetest.Running(other) {
		t.Errorf("another tunnel's connector %d was stopped", other)
	}
}
