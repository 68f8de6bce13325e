package cli

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/manifest"
)

// TestStatusRows assembles status rows from services.json rows and a
// /api/modules answer, without a hub: the steps collectStatus runs once
// the hub has answered (or not).
func TestStatusRows(t *testing.T) {
	ptr := func(s string) *string { return &s }
	pid, uptime, mem := 4242, int64(90), int64(1<<20)
	services := []manifest.Service{
		{Name: "parachute-notes", Port: 1942, Paths: []string{"/notes"}, Health: "/notes/health", Version: "1.2.0",
			InstallDir: "/home/u/.bun/install/global/node_modules/@openparachute/notes"},
		{Name: "echo", Port: 4000, Paths: []string{"/echo/"}, Health: "/echo/health", Version: "0.1.0", InstallDir: "/src/echo"},
		{Name: "spy", Port: 4001, Paths: []string{"/echo/api"}, Health: "/h", Version: "1"},
	}
	base := func(i int) moduleStatusJSON {
		r := services[i]
		s := manifest.ShortName(r.Name)
		return moduleStatusJSON{Name: r.Name, Short: s, Port: r.Port, Version: r.Version, URL: moduleURL(s, r), Source: moduleSource(r)}
	}
	spyRefused := refusedRows(services)[2]
	if spyRefused == "" {
		t.Fatalf("refusedRows(services) does not refuse spy; the table below assumes it does")
	}
	running := api.ModuleInfo{Short: "notes", Name: "parachute-notes", SupervisorStatus: ptr("running"), PID: &pid,
		Restarts: 2, UptimeS: &uptime, Ready: true, MemoryBytes: &mem, Cgroup: "/sys/fs/cgroup/x",
		Health: &api.Health{OK: true, StatusCode: 401, LatencyMS: 1.5, URL: "http://127.0.0.1:1942/notes/health"}}

	with := func(m moduleStatusJSON, f func(*moduleStatusJSON)) moduleStatusJSON { f(&m); return m }
	// The error a client without a token file really returns.
	_, noToken := hubclient.New(config.Paths{Root: t.TempDir()}).Token()
	if noToken == nil {
		t.Fatal("Token() with no token file succeeded")
	}
	cases := []struct {
		name      string
		services  []manifest.Service
		hubUp     bool
		mods      *api.ModulesResponse
		merr      error
		wantRows  []moduleStatusJSON
		wantHubNs []string
	}{{
		name:     "hub down: every row inactive, refused rows failing",
		services: services[:3],
		merr:     errors.New("connection refused"),
		wantRows: []moduleStatusJSON{
			with(base(0), func(m *moduleStatusJSON) {
				m.State, m.Notes = stateInactive, []string{"hub is down — its modules are stopped"}
			}),
			with(base(1), func(m *moduleStatusJSON) {
				m.State, m.Notes = stateInactive, []string{"hub is down — its modules are stopped"}
			}),
			with(base(2), func(m *moduleStatusJSON) {
				m.State, m.Notes = stateFailing, []string{"hub is down — its modules are stopped", spyRefused}
			}),
		},
	}, {
		name:     "hub up: live fields copied; unsupervised row inactive",
		services: services[:2],
		hubUp:    true,
		mods:     &api.ModulesResponse{Modules: []api.ModuleInfo{running}},
		wantRows: []moduleStatusJSON{
			with(base(0), func(m *moduleStatusJSON) {
				m.State, m.Status, m.PID, m.Restarts, m.UptimeS = stateActive, ptr("running"), &pid, 2, &uptime
				m.Health, m.HealthStatus, m.MemoryBytes, m.Cgroup = running.Health, 401, &mem, "/sys/fs/cgroup/x"
			}),
			with(base(1), func(m *moduleStatusJSON) { m.State = stateInactive }),
		},
	}, {
		name:     "hub up without a token: rows inactive, why on the first row",
		services: services[:2],
		hubUp:    true,
		merr:     noToken,
		wantRows: []moduleStatusJSON{
			with(base(0), func(m *moduleStatusJSON) {
				m.State, m.Notes = stateInactive, []string{"couldn't read live module state — " + noToken.Error()}
			}),
			with(base(1), func(m *moduleStatusJSON) { m.State = stateInactive }),
		},
	}, {
		name:      "hub up, list failed, no modules: why on the hub row",
		hubUp:     true,
		merr:      errors.New("HTTP 500"),
		wantRows:  []moduleStatusJSON{},
		wantHubNs: []string{"couldn't read live module state (HTTP 500)"},
	}, {
		name:     "a first-party module off its canonical port",
		services: []manifest.Service{{Name: "parachute-notes", Port: 5000, Paths: []string{"/notes"}, Health: "/notes/health"}},
		hubUp:    true,
		mods:     &api.ModulesResponse{},
		wantRows: []moduleStatusJSON{{Name: "parachute-notes", Short: "notes", Port: 5000, State: stateInactive,
			URL: "http://127.0.0.1:5000/notes", Source: "unknown", Notes: []string{"canonical port is 1942"}}},
	}, {
		name: "one row per vault instance, sharing the process",
		services: []manifest.Service{{Name: "parachute-vault", Port: 1944, Version: "0.3.6",
			Paths: []string{"/vault/default", "/vault/work"}, Health: "/vault/default/health"}},
		hubUp: false,
		wantRows: []moduleStatusJSON{
			{Name: "parachute-vault", Short: "vault", Vault: "default", Port: 1944, Version: "0.3.6", State: stateInactive,
				URL: "http://127.0.0.1:1944/vault/default/mcp", Source: "unknown", Notes: []string{"hub is down — its modules are stopped"}},
			{Name: "parachute-vault", Short: "vault", Vault: "work", Port: 1944, Version: "0.3.6", State: stateInactive,
				URL: "http://127.0.0.1:1944/vault/work/mcp", Source: "unknown", Notes: []string{"hub is down — its modules are stopped"}},
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := &statusJSON{}
			live, degraded := liveModules(c.hubUp, c.mods, c.merr)
			out.Modules = moduleRows(c.services, c.hubUp, live)
			noteDegraded(out, degraded)
			if d := cmp.Diff(c.wantRows, out.Modules); d != "" {
				t.Errorf("module rows (-want +got):\n%s", d)
			}
			if d := cmp.Diff(c.wantHubNs, out.Hub.Notes); d != "" {
				t.Errorf("hub notes (-want +got):\n%s", d)
			}
		})
	}
}

// TestPortOf: the hub base URL may come from PARACHUTE_HUB_URL, so it can
// carry a path or no port at all.
func TestPortOf(t *testing.T) {
	for base, want := range map[string]int{
		"http://127.0.0.1:2000":      2000,
		"http://127.0.0.1:2000/hub":  2000,
		"http://[::1]:2001/":         2001,
		"http://hub.local":           1939,
		"http://hub.local/proxy:443": 1939,
		"":                           1939,
	} {
		if got := portOf(base); got != want {
			t.Errorf("portOf(%q) = %d, want %d", base, got, want)
		}
	}
}
