package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/connector"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/ports"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// healthy is a box where nothing is wrong: a running user unit whose PATH
// finds bun, node and npm like the shell does, lingering on, the hub up
// with its module's port held by its child, a private token the hub
// accepts, a loopback origin, no exposure. Each case breaks one thing.
type healthy struct {
	paths config.Paths
	bin   string // a directory holding bun, node and npm
	p     Probes
}

func newHealthy(t *testing.T) *healthy {
	t.Helper()
	root := t.TempDir()
	bin := t.TempDir()
	for _, n := range []string{"bun", "node", "npm"} {
		mustWrite(t, filepath.Join(bin, n), "#!/bin/sh\n", 0o755)
	}
	mustWrite(t, filepath.Join(root, "operator.token"), "tok\n", 0o600)
	mustWrite(t, filepath.Join(root, "services.json"),
		`{"services":[{"name":"weather","port":2020,"paths":["/weather"],"health":"/weather/health","version":"1.0.0"}]}`, 0o600)
	shellPATH := bin + ":/usr/bin:/bin"
	holders := map[int]ports.Holder{1939: {PID: 100, Name: "parachute", Cmd: "parachute serve"},
		2020: {PID: 200, Name: "bun", Cmd: "bun run weather"}}
	h := &healthy{paths: config.Paths{Root: root}, bin: bin}
	h.p = Probes{
		Getenv: func(k string) string {
			if k == "PATH" {
				return shellPATH
			}
			return ""
		},
		User: "alice", EUID: os.Geteuid(),
		Kind: servicemgr.KindSystemdUser, UnitName: "parachute-hub.service",
		UnitState: func(context.Context) (servicemgr.State, error) {
			return servicemgr.State{Installed: true, LoadState: "loaded", ActiveState: "active", SubState: "running",
				UnitFileState: "enabled", MainPID: 100}, nil
		},
		Journal: func(context.Context, int) ([]string, error) { return []string{"boot", "listening"}, nil },
		HubEnv: func(context.Context, servicemgr.State) ([]string, string, error) {
			return []string{"HOME=/home/alice", "PATH=" + shellPATH}, "the running hub, pid 100", nil
		},
		Linger:     func(context.Context, string) (bool, error) { return true, nil },
		HubPort:    1939,
		Health:     func(context.Context) error { return nil },
		TokenCheck: func(context.Context) error { return nil },
		Issuer:     func(context.Context) (string, error) { return "http://127.0.0.1:1939", nil },
		HolderOf:   func(port int) (ports.Holder, bool) { h, ok := holders[port]; return h, ok },
		Listening:  func(port int) bool { _, ok := holders[port]; return ok },
		ParentOf:   func(pid int) int { return map[int]int{200: 150, 150: 100, 100: 1}[pid] },
		DiskFree:   func(string) (uint64, uint64, error) { return 50 << 30, 100 << 30, nil },
		LookPath:   func(string) (string, error) { return "", errors.New("not found") },
	}
	return h
}

func mustWrite(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func (h *healthy) run(t *testing.T) Report {
	t.Helper()
	return (&Doctor{Paths: h.paths, Probes: h.p}).Run(context.Background())
}

// find returns the findings of one check.
func find(rep Report, check string) []Finding {
	var out []Finding
	for _, f := range rep.Findings {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func TestHealthyBoxHasNoProblems(t *testing.T) {
	rep := newHealthy(t).run(t)
	if !rep.OK {
		t.Errorf("healthy box: OK = false")
	}
	for _, f := range rep.Findings {
		if f.Severity != OK {
			t.Errorf("healthy box: %+v", f)
		}
	}
	var checks []string
	for _, f := range rep.Findings {
		checks = append(checks, f.Check)
	}
	want := []string{"hub-unit", "hub", "module-path", "linger", "ports", "disk", "logs", "token", "origin", "exposure"}
	if d := cmp.Diff(want, checks); d != "" {
		t.Errorf("checks (-want +got):\n%s", d)
	}
}

// TestPlantedProblems: each problem planted on a healthy box yields its
// finding, with its severity, what was seen, and the fix.
func TestPlantedProblems(t *testing.T) {
	exit1, exit78 := 1, 78
	cases := []struct {
		name      string
		plant     func(t *testing.T, h *healthy)
		check     string
		sev       Severity
		seen, fix string
		detail    string
	}{
		{name: "unit failed", check: "hub-unit", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.UnitState = func(context.Context) (servicemgr.State, error) {
					return servicemgr.State{Installed: true, LoadState: "loaded", ActiveState: "failed", SubState: "failed",
						Result: "exit-code", LastExitCode: &exit1}, nil
				}
				h.p.Journal = func(context.Context, int) ([]string, error) { return []string{"boom: bad config"}, nil }
			},
			seen: "has failed (result exit-code, exited 1 (a runtime failure", fix: "parachute logs hub", detail: "boom: bad config"},
		{name: "unit failed on its configuration", check: "hub-unit", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.UnitState = func(context.Context) (servicemgr.State, error) {
					return servicemgr.State{Installed: true, LoadState: "loaded", ActiveState: "failed", SubState: "failed",
						Result: "exit-code", LastExitCode: &exit78}, nil
				}
			},
			seen: "has failed (result exit-code, exited 78 (EX_CONFIG: the hub's configuration is invalid, and restarting cannot fix it",
			fix:  "it names the setting to fix"},
		{name: "unit killed by a signal", check: "hub-unit", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.UnitState = func(context.Context) (servicemgr.State, error) {
					return servicemgr.State{Installed: true, LoadState: "loaded", ActiveState: "failed", SubState: "failed",
						Result: "signal", LastExitSignal: 9}, nil
				}
			},
			seen: "has failed (result signal, killed by signal 9 (killed))", fix: "parachute logs hub"},
		{name: "unit crash-looping", check: "hub-unit", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.UnitState = func(context.Context) (servicemgr.State, error) {
					return servicemgr.State{Installed: true, LoadState: "loaded", ActiveState: "activating", SubState: "auto-restart", NRestarts: 4}, nil
				}
			},
			seen: "crash-looping (4 restarts", fix: "parachute restart", detail: "listening"},
		{name: "no unit", check: "hub-unit", sev: Warn,
			plant: func(t *testing.T, h *healthy) {
				h.p.UnitState = func(context.Context) (servicemgr.State, error) {
					return servicemgr.State{LoadState: "not-found", ActiveState: "inactive"}, nil
				}
			},
			seen: "no hub unit is installed", fix: "parachute init"},
		{name: "unit stopped", check: "hub-unit", sev: Warn,
			plant: func(t *testing.T, h *healthy) {
				h.p.UnitState = func(context.Context) (servicemgr.State, error) {
					return servicemgr.State{Installed: true, LoadState: "loaded", ActiveState: "inactive"}, nil
				}
			},
			seen: "installed but inactive", fix: "parachute start"},
		{name: "hub down", check: "hub", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.Health = func(context.Context) error { return errors.New("refused") }
			},
			seen: "does not answer on 127.0.0.1:1939", fix: "parachute start"},
		{name: "bun missing under systemd", check: "module-path", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.HubEnv = func(context.Context, servicemgr.State) ([]string, string, error) {
					return []string{"PATH=/usr/bin:/bin"}, "the hub unit", nil
				}
			},
			seen: "bun is on your shell's PATH", fix: "parachute init", detail: "service manager PATH (the hub unit): /usr/bin:/bin"},
		{name: "bun nowhere", check: "module-path", sev: Warn,
			plant: func(t *testing.T, h *healthy) {
				os.Remove(filepath.Join(h.bin, "bun"))
			},
			seen: "bun is not installed", fix: "bun.sh/install"},
		{name: "no lingering", check: "linger", sev: Warn,
			plant: func(t *testing.T, h *healthy) {
				h.p.Linger = func(context.Context, string) (bool, error) { return false, nil }
			},
			seen: "lingering is off for alice", fix: "sudo loginctl enable-linger alice"},
		{name: "hub port held by another program", check: "ports", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.Health = func(context.Context) error { return errors.New("not the hub") }
				h.p.HolderOf = func(port int) (ports.Holder, bool) {
					return ports.Holder{PID: 4242, Name: "python3", Cmd: "python3 -m http.server 1939"}, port == 1939
				}
			},
			seen: "port 1939 (the hub) is held by python3 (pid 4242)", fix: "kill 4242"},
		{name: "module port held by a stranger", check: "ports", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.ParentOf = func(int) int { return 1 }
			},
			seen: "port 2020 (weather) is held by bun (pid 200), which the hub did not start", fix: "kill 200"},
		{name: "disk nearly full", check: "disk", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.DiskFree = func(string) (uint64, uint64, error) { return 10 << 20, 100 << 30, nil }
			},
			seen: "only 10.0 MB free", fix: "du -sh"},
		{name: "disk low", check: "disk", sev: Warn,
			plant: func(t *testing.T, h *healthy) {
				h.p.DiskFree = func(string) (uint64, uint64, error) { return 1 << 30, 100 << 30, nil }
			},
			seen: "only 1.0 GB free", fix: "parachute migrate --list"},
		{name: "big log", check: "logs", sev: Warn,
			plant: func(t *testing.T, h *healthy) {
				p := filepath.Join(h.paths.Root, "weather", "logs", "weather.log")
				mustWrite(t, p, "", 0o600)
				if err := os.Truncate(p, bigLog+1); err != nil { // sparse: no real disk used
					t.Fatal(err)
				}
			},
			seen: "1 log file(s) are larger than 256.0 MB", fix: "truncate -s 0 ", detail: "weather.log"},
		{name: "token readable by others", check: "token", sev: Error,
			plant: func(t *testing.T, h *healthy) { mustWrite(t, h.paths.OperatorToken(), "tok", 0o644) },
			seen:  "readable by others (mode 0644)", fix: "chmod 600 "},
		{name: "token is a symlink", check: "token", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				os.Remove(h.paths.OperatorToken())
				if err := os.Symlink("/etc/passwd", h.paths.OperatorToken()); err != nil {
					t.Fatal(err)
				}
			},
			seen: "is not a regular file", fix: "parachute auth rotate-operator"},
		{name: "token missing", check: "token", sev: Error,
			plant: func(t *testing.T, h *healthy) { os.Remove(h.paths.OperatorToken()) },
			seen:  "there is no operator token", fix: "parachute auth rotate-operator"},
		{name: "token refused", check: "token", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				h.p.TokenCheck = func(context.Context) error { return errors.New("HTTP 401: invalid_token") }
			},
			seen: "the hub refuses the operator token: HTTP 401", fix: "parachute auth rotate-operator"},
		{name: "issuer differs from the unit's origin", check: "origin", sev: Warn,
			plant: func(t *testing.T, h *healthy) {
				h.p.HubEnv = func(context.Context, servicemgr.State) ([]string, string, error) {
					return []string{"PATH=" + h.bin, "PARACHUTE_HUB_ORIGIN=https://hub.example.com/"}, "the hub unit", nil
				}
			},
			seen: "issues tokens for http://127.0.0.1:1939, but its configuration says https://hub.example.com (from PARACHUTE_HUB_ORIGIN)",
			fix:  "parachute restart"},
		{name: "exposed but loopback issuer", check: "origin", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				saveExposure(t, h, &state.Record{Version: 1, Layer: "tailnet", Mode: "path", CanonicalFQDN: "box.tail1.ts.net", Port: 443, HubPort: 1939})
			},
			seen: "exposed at https://box.tail1.ts.net but still issues tokens for http://127.0.0.1:1939", fix: "parachute restart"},
		{name: "tailscale serves nothing", check: "exposure", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				saveExposure(t, h, &state.Record{Version: 1, Layer: "tailnet", Mode: "path", CanonicalFQDN: "box.tail1.ts.net", Port: 443, HubPort: 1939})
				h.p.Issuer = func(context.Context) (string, error) { return "https://box.tail1.ts.net", nil }
				fakeTailscale(h, `{}`)
			},
			seen: "tailscale serves nothing at / there", fix: "parachute expose tailnet"},
		{name: "tailscale serves another port", check: "exposure", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				saveExposure(t, h, &state.Record{Version: 1, Layer: "public", Mode: "path", CanonicalFQDN: "box.tail1.ts.net", Port: 443, HubPort: 1939, Funnel: true})
				h.p.Issuer = func(context.Context) (string, error) { return "https://box.tail1.ts.net", nil }
				fakeTailscale(h, `{"Web":{"box.tail1.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:8080"}}}}}`)
			},
			seen: "tailscale serves http://127.0.0.1:8080 at https://box.tail1.ts.net, not the hub on port 1939", fix: "parachute expose public"},
		{name: "tailscale absent", check: "exposure", sev: Info,
			plant: func(t *testing.T, h *healthy) {
				saveExposure(t, h, &state.Record{Version: 1, Layer: "tailnet", Mode: "path", CanonicalFQDN: "box.tail1.ts.net", Port: 443, HubPort: 1939})
				h.p.Issuer = func(context.Context) (string, error) { return "https://box.tail1.ts.net", nil }
			},
			seen: "tailscale is not installed here"},
		{name: "cloudflare connector down", check: "exposure", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				saveExposure(t, h, nil)
				h.p.Issuer = func(context.Context) (string, error) { return "https://hub.example.com", nil }
				h.p.LookPath = func(string) (string, error) { return "/usr/bin/cloudflared", nil }
				h.p.ConnectorState = func(_ context.Context, unit string, system bool) (servicemgr.State, error) {
					return servicemgr.State{ActiveState: "failed"}, nil
				}
			},
			seen: "the Cloudflare connector for hub.example.com (parachute-cloudflared-hub.service) is failed",
			fix:  "systemctl --user restart parachute-cloudflared-hub.service"},
		{name: "hub-run connector running", check: "exposure", sev: OK,
			plant: func(t *testing.T, h *healthy) {
				saveHubTunnel(t, h)
				h.p.ChildArgvs = func(pid int) (map[int][]string, error) {
					if pid != 100 {
						return nil, nil
					}
					return map[int][]string{150: {"bun", "run", "weather"},
						160: connector.Argv("cloudflared", "/cfg/hub/config.yml")}, nil
				}
			},
			seen: "the hub (pid 100) runs the Cloudflare connector for hub.example.com (pid 160)"},
		{name: "hub-run connector of a hub whose port holder is hidden", check: "exposure", sev: OK,
			plant: func(t *testing.T, h *healthy) {
				saveHubTunnel(t, h)
				h.p.HolderOf = func(int) (ports.Holder, bool) { return ports.Holder{}, false }
				h.p.ChildArgvs = func(pid int) (map[int][]string, error) {
					if pid != 100 { // the unit's MainPID
						return nil, nil
					}
					return map[int][]string{160: connector.Argv("/usr/bin/cloudflared", "/cfg/hub/config.yml")}, nil
				}
			},
			seen: "the hub (pid 100) runs the Cloudflare connector for hub.example.com (pid 160)"},
		{name: "hub-run connector not running", check: "exposure", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				saveHubTunnel(t, h)
				h.p.ChildArgvs = func(pid int) (map[int][]string, error) {
					// A connector for another config is not this tunnel's.
					return map[int][]string{150: {"bun", "run", "weather"},
						170: connector.Argv("cloudflared", "/cfg/other/config.yml")}, nil
				}
			},
			seen:   "the hub (pid 100) is not running the Cloudflare connector for hub.example.com",
			detail: "cloudflared-hub.log",
			fix:    "parachute expose public --cloudflare --domain hub.example.com"},
		{name: "hub-run connector, hub down", check: "exposure", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				saveHubTunnel(t, h)
				h.p.Kind, h.p.UnitState = servicemgr.KindNone, nil
				h.p.Health = func(context.Context) error { return errors.New("connection refused") }
			},
			seen: "the hub runs the Cloudflare connector for hub.example.com and is not answering",
			fix:  "parachute serve"},
		{name: "malformed expose-state", check: "exposure", sev: Error,
			plant: func(t *testing.T, h *healthy) {
				mustWrite(t, filepath.Join(h.paths.Root, state.StateFile), "{not json", 0o600)
			},
			seen: "expose-state.json", fix: "expose-state.json.bad"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHealthy(t)
			tc.plant(t, h)
			rep := h.run(t)
			var hit *Finding
			for _, f := range find(rep, tc.check) {
				if f.Severity == tc.sev && strings.Contains(f.Seen, tc.seen) {
					hit = &f
					break
				}
			}
			if hit == nil {
				t.Fatalf("no %s %s finding seeing %q; got:\n%s", tc.sev, tc.check, tc.seen, dump(rep))
			}
			if !strings.Contains(hit.Fix, tc.fix) {
				t.Errorf("fix = %q, want it to contain %q", hit.Fix, tc.fix)
			}
			if tc.detail != "" && !strings.Contains(strings.Join(hit.Detail, "\n"), tc.detail) {
				t.Errorf("detail = %q, want it to contain %q", hit.Detail, tc.detail)
			}
			if rep.OK != (tc.sev != Error) && !hasError(rep) {
				t.Errorf("OK = %v with a %s finding", rep.OK, tc.sev)
			}
			if tc.sev == Error && rep.OK {
				t.Error("OK = true with an error finding")
			}
		})
	}
}

func hasError(rep Report) bool {
	for _, f := range rep.Findings {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

func dump(rep Report) string {
	b, _ := json.MarshalIndent(rep, "", "  ")
	return string(b)
}

// saveExposure writes an expose-state with a tailscale record, or (nil)
// a cloudflare one with one user-unit connector.
func saveExposure(t *testing.T, h *healthy, ts *state.Record) {
	t.Helper()
	st := &state.State{Providers: map[state.Provider]*state.Record{}}
	if ts != nil {
		st.Providers[state.Tailscale] = ts
	} else {
		st.Providers[state.Cloudflare] = &state.Record{Version: 1, Layer: "public", Mode: "path", CanonicalFQDN: "hub.example.com",
			Port: 443, HubPort: 1939, Tunnels: map[string]state.Tunnel{"hub": {UUID: "u-1", Name: "hub", Hostname: "hub.example.com",
				Unit: "parachute-cloudflared-hub.service"}}}
	}
	if err := state.Save(h.paths.Root, st); err != nil {
		t.Fatal(err)
	}
}

// saveHubTunnel writes an expose-state with a cloudflare tunnel whose
// connector the hub runs (no unit), as expose records it in a container.
func saveHubTunnel(t *testing.T, h *healthy) {
	t.Helper()
	st := &state.State{Providers: map[state.Provider]*state.Record{state.Cloudflare: {Version: 1, Layer: "public", Mode: "path",
		CanonicalFQDN: "hub.example.com", Port: 443, HubPort: 1939, Tunnels: map[string]state.Tunnel{"hub": {UUID: "u-1", Name: "hub",
			Hostname: "hub.example.com", ConfigPath: "/cfg/hub/config.yml", Connector: state.ConnectorHub}}}}}
	if err := state.Save(h.paths.Root, st); err != nil {
		t.Fatal(err)
	}
	h.p.Issuer = func(context.Context) (string, error) { return "https://hub.example.com", nil }
}

// fakeTailscale makes tailscale present, answering `serve status --json`
// with out.
func fakeTailscale(h *healthy, out string) {
	h.p.LookPath = func(n string) (string, error) { return "/usr/bin/" + n, nil }
	h.p.Run = func(_ context.Context, name string, args ...string) (string, string, int, error) {
		if strings.Join(args, " ") == "serve status --json" {
			return out, "", 0, nil
		}
		return "", "unexpected", 1, nil
	}
}

func TestNoServiceManager(t *testing.T) {
	h := newHealthy(t)
	h.p.Kind, h.p.UnitState, h.p.HubEnv = servicemgr.KindNone, nil, nil
	rep := h.run(t)
	f := find(rep, "hub-unit")
	if len(f) != 1 || f[0].Severity != Info || f[0].Fix == "" {
		t.Errorf("hub-unit without a manager: %+v", f)
	}
	if len(find(rep, "module-path")) != 0 || len(find(rep, "linger")) != 0 {
		t.Errorf("module-path/linger without a manager:\n%s", dump(rep))
	}
	if !rep.OK {
		t.Error("no manager alone is not an error")
	}
}

// TestReportJSON pins the --json shape scripts read.
func TestReportJSON(t *testing.T) {
	rep := Report{OK: false, Findings: []Finding{
		{Check: "hub-unit", Severity: Error, Seen: "failed", Detail: []string{"boom"}, Fix: "parachute logs hub"},
		{Check: "disk", Severity: OK, Seen: "plenty"},
	}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"findings":[{"check":"hub-unit","severity":"error","seen":"failed","detail":["boom"],"fix":"parachute logs hub"},` +
		`{"check":"disk","severity":"ok","seen":"plenty"}],"ok":false}`
	if string(b) != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b, want)
	}
}

func TestParseSystemdEnvironment(t *testing.T) {
	cases := map[string][]string{
		"":                              nil,
		"PATH=/usr/bin:/bin HOME=/root": {"PATH=/usr/bin:/bin", "HOME=/root"},
		`A=1 "B=two words" C=`:          {"A=1", "B=two words", "C="},
		`"Q=say \"hi\"\n" noequals =x`:  {"Q=say \"hi\"\n"},
		"X=1\n":                         {"X=1"},
	}
	for in, want := range cases {
		if d := cmp.Diff(want, ParseSystemdEnvironment(in)); d != "" {
			t.Errorf("ParseSystemdEnvironment(%q) (-want +got):\n%s", in, d)
		}
	}
}

func TestParseEnviron(t *testing.T) {
	got := ParseEnviron([]byte("A=1\x00=bad\x00junk\x00PATH=/bin:/usr/bin\x00\x00"))
	if d := cmp.Diff([]string{"A=1", "PATH=/bin:/usr/bin"}, got); d != "" {
		t.Errorf("ParseEnviron (-want +got):\n%s", d)
	}
}

// FuzzParseSystemdEnvironment: systemctl's output is not ours; whatever it
// prints, the parser returns only KEY=value entries with a non-empty key
// and never panics.
func FuzzParseSystemdEnvironment(f *testing.F) {
	for _, s := range []string{"", "PATH=/usr/bin HOME=/root", `"A=b c" D=e`, `"unterminated`, `\`, `"\`, "K=\x00v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, kv := range ParseSystemdEnvironment(s) {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				t.Fatalf("entry %q from %q", kv, s)
			}
		}
		for _, kv := range ParseEnviron([]byte(s)) {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				t.Fatalf("environ entry %q from %q", kv, s)
			}
		}
	})
}

// TestNoUnitNoModulePath: without a hub unit, modules do not run under the
// service manager, so its PATH is not compared (it would only mislead).
func TestNoUnitNoModulePath(t *testing.T) {
	h := newHealthy(t)
	h.p.UnitState = func(context.Context) (servicemgr.State, error) {
		return servicemgr.State{LoadState: "not-found", ActiveState: "inactive"}, nil
	}
	h.p.HubEnv = func(context.Context, servicemgr.State) ([]string, string, error) {
		return []string{"PATH=/nowhere"}, "the hub unit", nil
	}
	if f := find(h.run(t), "module-path"); len(f) != 0 {
		t.Errorf("module-path without a unit: %+v", f)
	}
}

func TestShellArg(t *testing.T) {
	for in, want := range map[string]string{
		"/home/alice/.parachute/operator.token": "/home/alice/.parachute/operator.token",
		"/Users/a b/.parachute":                 "'/Users/a b/.parachute'",
		"/tmp/it's":                             `'/tmp/it'\''s'`,
		"/tmp/$(reboot)":                        "'/tmp/$(reboot)'",
		"":                                      "''",
	} {
		if got := shellArg(in); got != want {
			t.Errorf("shellArg(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestFixesQuoteTheRoot: a config root with a space in its path gets
// fixes that name its files as one shell word each, so the command the
// operator pastes touches that file and no other.
func TestFixesQuoteTheRoot(t *testing.T) {
	h := newHealthy(t)
	spaced := filepath.Join(t.TempDir(), "my parachute")
	if err := os.Rename(h.paths.Root, spaced); err != nil {
		t.Fatal(err)
	}
	h.paths.Root = spaced
	tok := h.paths.OperatorToken()
	os.Remove(tok)
	if err := os.Symlink("/etc/passwd", tok); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(spaced, "weather", "logs", "weather (old).log")
	mustWrite(t, log, "", 0o600)
	if err := os.Truncate(log, bigLog+1); err != nil { // sparse
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(spaced, state.StateFile), "{not json", 0o600)
	rep := h.run(t)
	for check, want := range map[string]string{
		"token":    "rm '" + tok + "' && parachute auth rotate-operator",
		"logs":     "truncate -s 0 '" + log + "'   # after reading what you need",
		"exposure": "mv '" + filepath.Join(spaced, state.StateFile) + "' '" + filepath.Join(spaced, state.StateFile) + ".bad'   # then re-run parachute expose",
	} {
		if f := find(rep, check); len(f) != 1 || f[0].Fix != want {
			t.Errorf("%s fix = %+v, want %q", check, f, want)
		}
	}
}

// TestToolsWithoutAUnit: with no service manager (a container) or no hub
// unit, there is no unit PATH to compare, but doctor still says where bun,
// node and npm are on the PATH a hub started here gives its modules, and
// warns, with the fix, when bun is missing. With a unit, module-path has
// already said it.
func TestToolsWithoutAUnit(t *testing.T) {
	h := newHealthy(t)
	if f := find(h.run(t), "tools"); len(f) != 0 {
		t.Errorf("tools with a hub unit: %+v", f)
	}
	h.p.Kind, h.p.UnitState, h.p.HubEnv = servicemgr.KindNone, nil, nil
	f := find(h.run(t), "tools")
	if len(f) != 1 || f[0].Severity != OK || !strings.Contains(f[0].Seen, "bun: "+filepath.Join(h.bin, "bun")) ||
		!strings.Contains(f[0].Seen, "npm: "+filepath.Join(h.bin, "npm")) {
		t.Errorf("tools without a manager: %+v", f)
	}

	node := t.TempDir()
	mustWrite(t, filepath.Join(node, "node"), "#!/bin/sh\n", 0o755)
	h.p.Getenv = func(k string) string {
		if k == "PATH" {
			return node + ":/nonexistent"
		}
		return ""
	}
	rep := h.run(t)
	f = find(rep, "tools")
	if len(f) != 1 || f[0].Severity != Warn || !strings.Contains(f[0].Seen, "bun is not on this PATH") ||
		!strings.Contains(f[0].Fix, "bun.sh/install") {
		t.Errorf("tools without bun:\n%s", dump(rep))
	}
	if !rep.OK {
		t.Error("missing bun without a unit is a warning, not an error")
	}
}

// TestTokenReadableIsEnough: what the CLI needs is to read the token. The
// system package's token is 0640 for the parachute group and owned by the
// parachute user; a group member (or root) reading it is fine, and doctor
// must not tell them to chmod or chown it away from the hub's user.
func TestTokenReadableIsEnough(t *testing.T) {
	for _, c := range []struct {
		name string
		mode os.FileMode
		euid func(owner int) int
	}{
		{"group-readable 0640, yours", 0o640, func(owner int) int { return owner }},
		{"another user's, readable by you", 0o640, func(owner int) int { return owner + 4242 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHealthy(t)
			mustWrite(t, h.paths.OperatorToken(), "tok\n", c.mode)
			fi, err := os.Stat(h.paths.OperatorToken())
			if err != nil {
				t.Fatal(err)
			}
			owner, _ := fileOwner(fi)
			h.p.EUID = c.euid(owner)
			rep := h.run(t)
			if f := find(rep, "token"); len(f) != 1 || f[0].Severity != OK {
				t.Errorf("token findings:\n%s", dump(rep))
			}
		})
	}
}

// TestUnitEnvironment: besides PATH, the unit's PARACHUTE_HOME against the
// shell's config root, and (for a unit that runs as the operator) where
// the hub's bun installs modules against where the shell's bun looks.
func TestUnitEnvironment(t *testing.T) {
	for _, c := range []struct {
		name      string
		kind      servicemgr.Kind
		unitEnv   func(h *healthy) []string
		shellHome string
		want      string // a substring of the module-env finding; "" for none
	}{
		{name: "same root, same bun", kind: servicemgr.KindSystemdUser, shellHome: "/home/alice",
			unitEnv: func(h *healthy) []string {
				return []string{"PATH=" + h.bin, "HOME=/home/alice", "PARACHUTE_HOME=" + h.paths.Root + "/"}
			}},
		{name: "another root", kind: servicemgr.KindSystemdUser, shellHome: "/home/alice",
			unitEnv: func(h *healthy) []string {
				return []string{"PATH=" + h.bin, "HOME=/home/alice", "PARACHUTE_HOME=/srv/parachute"}
			},
			want: "the hub unit serves the config root /srv/parachute, but this shell's CLI uses"},
		{name: "another bun", kind: servicemgr.KindSystemdUser, shellHome: "/home/alice",
			unitEnv: func(h *healthy) []string {
				return []string{"PATH=" + h.bin, "HOME=/home/alice", "BUN_INSTALL=/opt/bun"}
			},
			want: "the hub installs modules into /opt/bun (BUN_INSTALL under systemd-user), but bun in your shell uses /home/alice/.bun"},
		{name: "a system unit's own home", kind: servicemgr.KindSystemdSystem, shellHome: "/home/alice",
			unitEnv: func(h *healthy) []string {
				return []string{"PATH=" + h.bin, "HOME=/var/lib/parachute"}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHealthy(t)
			h.p.Kind = c.kind
			env := c.unitEnv(h)
			h.p.HubEnv = func(context.Context, servicemgr.State) ([]string, string, error) { return env, "the hub unit", nil }
			shellPATH := h.bin + ":/usr/bin:/bin"
			h.p.Getenv = func(k string) string {
				switch k {
				case "PATH":
					return shellPATH
				case "HOME":
					return c.shellHome
				}
				return ""
			}
			rep := h.run(t)
			f := find(rep, "module-env")
			switch {
			case c.want == "" && len(f) != 0:
				t.Errorf("unexpected module-env findings:\n%s", dump(rep))
			case c.want != "" && (len(f) != 1 || f[0].Severity != Warn || !strings.Contains(f[0].Seen, c.want) || f[0].Fix == ""):
				t.Errorf("module-env findings, want %q:\n%s", c.want, dump(rep))
			}
		})
	}
}
