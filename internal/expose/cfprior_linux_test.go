package expose

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// plantLegacy writes the TypeScript hub's cloudflared-state.json (v2)
// recording pid as the connector of tunnel name.
func plantLegacy(t *testing.T, root, name, host string, pid int, serviceManaged bool) {
	t.Helper()
	_, cfg, _ := TunnelPaths(root, name)
	b, _ := json.Marshal(map[string]any{"version": 2, "tunnels": map[string]any{name: map[string]any{
		"pid": pid, "tunnelUuid": fakeTunnelID, "tunnelName": name, "hostname": host,
		"startedAt": "2026-01-01T00:00:00.000Z", "configPath": cfg, "serviceManaged": serviceManaged}}})
	if err := os.WriteFile(filepath.Join(root, state.LegacyTunnelsFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestUpStopsThePreviousHubsConnector: on a box moved from the TypeScript
// hub, expose stops the connector that hub left running for the tunnel
// (with or without a service manager) and takes its record over; a
// recorded pid that now runs something else, or our unit's own main
// process, is left alone.
func TestUpStopsThePreviousHubsConnector(t *testing.T) {
	const name, host = "parachute-hub-example-com", "hub.example.com"
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1)")
	}
	for _, tc := range []struct {
		name string
		// prev starts what the record's pid is; mgr may spare it.
		prev     func(t *testing.T, cfg string, mgr *exposetest.Manager) int
		noMgr    bool
		stopped  bool
		wantLine string
	}{
		{name: "transient connector, unit", stopped: true, wantLine: "✓ Stopped the previous hub's cloudflared connector (pid %d, tunnel \"" + name + "\")",
			prev: func(t *testing.T, cfg string, _ *exposetest.Manager) int { return exposetest.StartPrevious(t, cfg) }},
		{name: "transient connector, hub-run", noMgr: true, stopped: true, wantLine: "✓ Stopped the previous hub's cloudflared connector (pid %d",
			prev: func(t *testing.T, cfg string, _ *exposetest.Manager) int { return exposetest.StartPrevious(t, cfg) }},
		{name: "pid reused by sleep", wantLine: "the pid now runs something else, left alone",
			prev: func(t *testing.T, _ string, _ *exposetest.Manager) int {
				cmd := exec.Command(sleep, "1000")
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				return cmd.Process.Pid
			}},
		{name: "the unit's own main process", wantLine: "which is now this hub's own connector; left running",
			prev: func(t *testing.T, cfg string, mgr *exposetest.Manager) int {
				pid := exposetest.StartPrevious(t, cfg)
				mgr.MainPID = pid
				return pid
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, root, home := cfSetup(t, true)
			_, cfg, _ := TunnelPaths(root, name)
			if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
				t.Fatal(err)
			}
			mgr := &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}
			pid := tc.prev(t, cfg, mgr)
			plantLegacy(t, root, name, host, pid, false)
			var log strings.Builder
			o := CloudflareOptions{Root: root, Hostname: host, HubPort: 1939, Mgr: mgr,
				Logf: func(f string, a ...any) { fmt.Fprintf(&log, f, a...) }}
			if tc.noMgr {
				o.Mgr = nil
			}
			cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
			if _, _, err := cf.Up(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			argvLog(t, fake)
			if want := tc.wantLine; !strings.Contains(log.String(), strings.ReplaceAll(want, "%d", fmt.Sprint(pid))) {
				t.Errorf("log lacks %q:\n%s", want, log.String())
			}
			if got := exposetest.Running(pid); got == tc.stopped {
				t.Errorf("pid %d running = %v after expose", pid, got)
			}
			if tc.stopped && len(exposetest.Connectors(t, cfg)) != 0 {
				t.Errorf("connectors still running: %v", exposetest.Connectors(t, cfg))
			}
			// Taken over: expose-state.json records the tunnel, the
			// reference's file no longer does.
			if _, err := os.Stat(filepath.Join(root, state.LegacyTunnelsFile)); !os.IsNotExist(err) {
				t.Errorf("cloudflared-state.json kept: %v", err)
			}
			if !strings.Contains(log.String(), "✓ Took over "+name+" from the previous hub's cloudflared-state.json.") {
				t.Errorf("log:\n%s", log.String())
			}
			if st, err := state.Load(root); err != nil || st.Providers[state.Cloudflare].Tunnels[name].UUID != fakeTunnelID {
				t.Errorf("expose-state: %+v %v", st, err)
			}
		})
	}
}

// TestUpMigratesTheSharedTunnel: the previous hub served the hostname
// from its shared "parachute" tunnel through a connector service; the
// dedicated tunnel replaces it: that unit is removed (it would restart
// the connector) and its connector stopped.
func TestUpMigratesTheSharedTunnel(t *testing.T) {
	const host = "hub.example.com"
	fake, root, home := cfSetup(t, true)
	_, oldCfg, _ := TunnelPaths(root, "parachute")
	if err := os.MkdirAll(filepath.Dir(oldCfg), 0o700); err != nil {
		t.Fatal(err)
	}
	pid := exposetest.StartPrevious(t, oldCfg)
	plantLegacy(t, root, "parachute", host, pid, true)
	mgr := &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}
	var log strings.Builder
	cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
	_, tun, err := cf.Up(context.Background(), CloudflareOptions{Root: root, Hostname: host, HubPort: 1939, Mgr: mgr,
		Logf: func(f string, a ...any) { fmt.Fprintf(&log, f, a...) }})
	if err != nil {
		t.Fatal(err)
	}
	argvLog(t, fake)
	if tun.Name != "parachute-hub-example-com" {
		t.Fatalf("tunnel %q", tun.Name)
	}
	if want := []string{"uninstall parachute-cloudflared-parachute.service", "install parachute-cloudflared-parachute-hub-example-com.service start=true"}; strings.Join(mgr.Calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("manager calls %q, want %q", mgr.Calls, want)
	}
	if exposetest.Running(pid) {
		t.Errorf("the shared tunnel's connector %d still runs", pid)
	}
	for _, want := range []string{
		"✓ Removed the previous hub's connector service parachute-cloudflared-parachute.service (migrated hub.example.com to dedicated tunnel parachute-hub-example-com).",
		fmt.Sprintf("✓ Stopped the previous hub's cloudflared connector (pid %d, tunnel \"parachute\").", pid),
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestUpStopsOrphansOnlyWhenTheHubIsKnown: an orphan connector of the
// tunnel (no record) is stopped when the hub's pid is known, sparing the
// hub's own connector child; with the hub unknown nothing unrecorded is
// touched, since the hub's child has the same command line.
func TestUpStopsOrphansOnlyWhenTheHubIsKnown(t *testing.T) {
	const name, host = "parachute-hub-example-com", "hub.example.com"
	for _, hubKnown := range []bool{true, false} {
		t.Run(fmt.Sprint("hub known ", hubKnown), func(t *testing.T) {
			fake, root, home := cfSetup(t, true)
			_, cfg, _ := TunnelPaths(root, name)
			if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
				t.Fatal(err)
			}
			orphan := exposetest.StartPrevious(t, cfg)
			// This test process plays the hub; its connector is a child.
			child := exec.Command("cloudflared", "tunnel", "--config", cfg, "run")
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { child.Process.Kill(); child.Wait() })
			o := CloudflareOptions{Root: root, Hostname: host, HubPort: 1939, Logf: func(string, ...any) {}}
			if hubKnown {
				o.HubPID = os.Getpid()
			}
			cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
			if _, _, err := cf.Up(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			argvLog(t, fake)
			if got := exposetest.Running(orphan); got == hubKnown {
				t.Errorf("orphan %d running = %v", orphan, got)
			}
			if !exposetest.Running(child.Process.Pid) {
				t.Errorf("the hub's own connector %d was stopped", child.Process.Pid)
			}
		})
	}
}
