package expose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// cfSetup puts the fakes on PATH and a home with (or without) cert.pem.
func cfSetup(t *testing.T, loggedIn bool) (fake, root, home string) {
	fake, root, home = fakes(t), t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	if err := os.MkdirAll(filepath.Join(home, ".cloudflared"), 0o700); err != nil {
		t.Fatal(err)
	}
	if loggedIn {
		writeFake(t, filepath.Join(home, ".cloudflared"), "cert.pem", "-----BEGIN ARGO TUNNEL TOKEN-----\n")
	}
	return fake, root, home
}

func TestCloudflareUpAndOff(t *testing.T) {
	fake, root, home := cfSetup(t, true)
	cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
	mgr := &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	opts := CloudflareOptions{Root: root, Hostname: "Hub.Example.com", HubPort: 1939, Mgr: mgr, Now: func() time.Time { return now }}
	rec, tun, err := cf.Up(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	name := "parachute-hub-example-com"
	if diff := cmp.Diff(seq(
		"cloudflared --version",
		"cloudflared tunnel list --output json",
		"cloudflared tunnel create "+name,
		"cloudflared tunnel route dns --overwrite-dns "+name+" hub.example.com",
	), argvLog(t, fake)); diff != "" {
		t.Errorf("up argv (-want +got):\n%s", diff)
	}
	_, cfgPath, logPath := TunnelPaths(root, name)
	wantTun := state.Tunnel{UUID: fakeTunnelID, Name: name, Hostname: "hub.example.com", ConfigPath: cfgPath,
		Unit: ConnectorUnitName(name), StartedAt: "2026-12-06T12:00:00Z", DNSRouted: true,
		Cloudflared: filepath.Join(filepath.SplitList(os.Getenv("PATH"))[0], "cloudflared")}
	if diff := cmp.Diff(wantTun, tun); diff != "" {
		t.Errorf("tunnel (-want +got):\n%s", diff)
	}
	if rec.HubOrigin != "https://hub.example.com" || rec.Layer != state.LayerPublic || rec.Mode != "subdomain" || rec.Port != 1939 {
		t.Errorf("record = %+v", rec)
	}
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	wantCfg := "tunnel: " + fakeTunnelID + "\ncredentials-file: \"" + filepath.Join(home, ".cloudflared", fakeTunnelID+".json") + "\"\n" +
		"ingress:\n  - hostname: hub.example.com\n    service: http://localhost:1939\n  - service: http_status:404\n"
	if !strings.HasSuffix(string(cfg), wantCfg) {
		t.Errorf("config.yml:\n%s\nwant suffix:\n%s", cfg, wantCfg)
	}
	unitPath := servicemgr.UnitPath(servicemgr.KindSystemdUser, home, ConnectorUnitName(name))
	u, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := filepath.Abs(filepath.Join(filepath.Dir(os.Getenv("PATH")), filepath.Base(os.Getenv("PATH")), "cloudflared"))
	for _, want := range []string{
		"Description=Parachute Cloudflare connector (" + name + ")",
		"ExecStart=" + bin + " tunnel --config " + cfgPath + " run",
		"Restart=always", "WantedBy=default.target",
	} {
		if !strings.Contains(string(u), want+"\n") {
			t.Errorf("unit lacks %q:\n%s", want, u)
		}
	}
	_ = logPath

	// Re-up reuses the tunnel and does not duplicate the record.
	if _, _, err := cf.Up(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seq(
		"cloudflared --version",
		"cloudflared tunnel list --output json",
		"cloudflared tunnel route dns --overwrite-dns "+name+" hub.example.com",
	), argvLog(t, fake)); diff != "" {
		t.Errorf("re-up argv (-want +got):\n%s", diff)
	}
	st, _ := state.Load(root)
	if n := len(st.Providers[state.Cloudflare].Tunnels); n != 1 {
		t.Errorf("%d tunnels recorded after re-up", n)
	}

	// Off removes the unit and the record; it runs no cloudflared command.
	removed, err := cf.Down(context.Background(), root, "", mgr, nil)
	if err != nil || len(removed) != 1 {
		t.Fatalf("Down = %v, %v", removed, err)
	}
	if got := argvLog(t, fake); got != nil {
		t.Errorf("off ran %q", got)
	}
	if _, err := os.Stat(unitPath); !os.IsNotExist(err) {
		t.Errorf("unit file still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, state.StateFile)); !os.IsNotExist(err) {
		t.Errorf("state still there: %v", err)
	}
	if diff := cmp.Diff([]string{
		"install " + ConnectorUnitName(name) + " start=true",
		"install " + ConnectorUnitName(name) + " start=true",
		"uninstall " + ConnectorUnitName(name),
	}, mgr.Calls); diff != "" {
		t.Errorf("manager calls (-want +got):\n%s", diff)
	}
}

// Tailscale's record survives a Cloudflare up and off (reference §9.11).
func TestCloudflareLeavesTailscaleRecordAlone(t *testing.T) {
	_, root, home := cfSetup(t, true)
	ts := &state.Record{Version: 1, Layer: state.LayerTailnet, Mode: "path", CanonicalFQDN: "box.tail1234.ts.net", Port: 443,
		Entries: []state.Entry{{Kind: "proxy", Mount: "/", Target: "http://127.0.0.1:1939/", Service: "hub"}}}
	if err := state.Save(root, &state.State{Providers: map[state.Provider]*state.Record{state.Tailscale: ts}}); err != nil {
		t.Fatal(err)
	}
	cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
	mgr := &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}
	if _, _, err := cf.Up(context.Background(), CloudflareOptions{Root: root, Hostname: "a.example.com", TunnelName: "one", HubPort: 1939, Mgr: mgr}); err != nil {
		t.Fatal(err)
	}
	st, _ := state.Load(root)
	if diff := cmp.Diff(ts, st.Providers[state.Tailscale]); diff != "" {
		t.Errorf("tailscale record after cloudflare up (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"https://a.example.com", "https://box.tail1234.ts.net"}, st.Origins()); diff != "" {
		t.Errorf("origins (-want +got):\n%s", diff)
	}
	if _, err := cf.Down(context.Background(), root, "", mgr, nil); err != nil {
		t.Fatal(err)
	}
	st, _ = state.Load(root)
	if diff := cmp.Diff(map[state.Provider]*state.Record{state.Tailscale: ts}, st.Providers); diff != "" {
		t.Errorf("after cloudflare off (-want +got):\n%s", diff)
	}
}

func TestCloudflareNotReady(t *testing.T) {
	t.Run("not logged in", func(t *testing.T) {
		fake, root, home := cfSetup(t, false)
		_, _, err := (&Cloudflare{Home: home, Getenv: func(string) string { return "" }}).Up(context.Background(),
			CloudflareOptions{Root: root, Hostname: "hub.example.com", HubPort: 1939, Mgr: &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}})
		if !errors.Is(err, ErrCloudflaredNotLoggedIn) || !strings.Contains(err.Error(), "cloudflared tunnel login") {
			t.Fatalf("Up = %v", err)
		}
		if diff := cmp.Diff(seq("cloudflared --version"), argvLog(t, fake)); diff != "" {
			t.Errorf("argv (-want +got):\n%s", diff)
		}
	})
	t.Run("not installed", func(t *testing.T) {
		_, root, home := cfSetup(t, true)
		t.Setenv("PATH", t.TempDir())
		_, _, err := (&Cloudflare{Home: home}).Up(context.Background(),
			CloudflareOptions{Root: root, Hostname: "hub.example.com", HubPort: 1939, Mgr: &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}})
		if !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("Up = %v", err)
		}
	})
	t.Run("bad names run nothing", func(t *testing.T) {
		fake, root, home := cfSetup(t, true)
		for _, o := range []CloudflareOptions{{Hostname: "localhost"}, {Hostname: "-x.example.com"}, {Hostname: "h.example.com", TunnelName: "../evil"}} {
			o.Root, o.HubPort, o.Mgr = root, 1939, &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}
			_, _, err := (&Cloudflare{Home: home}).Up(context.Background(), o)
			if !errors.Is(err, ErrBadHostname) && !errors.Is(err, ErrBadTunnelName) {
				t.Errorf("Up(%+v) = %v", o, err)
			}
		}
		if got := argvLog(t, fake); got != nil {
			t.Errorf("ran %q", got)
		}
	})
	t.Run("dns route fails", func(t *testing.T) {
		fake, root, home := cfSetup(t, true)
		writeFake(t, fake, "dns-fail", "")
		mgr := &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}
		_, _, err := (&Cloudflare{Home: home, Getenv: func(string) string { return "" }}).Up(context.Background(),
			CloudflareOptions{Root: root, Hostname: "hub.example.com", HubPort: 1939, Mgr: mgr})
		if !errors.Is(err, ErrDNSRoute) || !strings.Contains(err.Error(), "example.com is a zone") || !strings.Contains(err.Error(), "1003") {
			t.Fatalf("Up = %v", err)
		}
		if len(mgr.Calls) != 0 {
			t.Errorf("installed a connector after a failed route: %q", mgr.Calls)
		}
	})
}

func TestCloudflareDownByName(t *testing.T) {
	_, root, home := cfSetup(t, true)
	cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
	mgr := &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}
	for _, h := range []string{"a.example.com", "b.example.com"} {
		if _, _, err := cf.Up(context.Background(), CloudflareOptions{Root: root, Hostname: h, HubPort: 1939, Mgr: mgr}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := cf.Down(context.Background(), root, "nope", mgr, nil)
	var ute *UnknownTunnelError
	if !errors.As(err, &ute) || !strings.Contains(err.Error(), "parachute-a-example-com, parachute-b-example-com") {
		t.Fatalf("Down(nope) = %v", err)
	}
	if _, err := cf.Down(context.Background(), root, "parachute-a-example-com", mgr, nil); err != nil {
		t.Fatal(err)
	}
	st, _ := state.Load(root)
	rec := st.Providers[state.Cloudflare]
	if rec == nil || len(rec.Tunnels) != 1 || rec.CanonicalFQDN != "b.example.com" || rec.HubOrigin != "https://b.example.com" {
		t.Fatalf("after removing a: %+v", rec)
	}
}

func TestDeriveTunnelName(t *testing.T) {
	cases := map[string]string{
		"vault.example.com":  "parachute-vault-example-com",
		"Vault.Example.COM":  "parachute-vault-example-com",
		"a_b.ex-ample.co.uk": "parachute-a_b-ex-ample-co-uk",
	}
	for in, want := range cases {
		if got := DeriveTunnelName(in); got != want {
			t.Errorf("DeriveTunnelName(%q) = %q, want %q", in, got, want)
		}
	}
	long1 := strings.Repeat("a", 60) + ".example.com"
	long2 := strings.Repeat("a", 60) + ".example.org"
	n1, n2 := DeriveTunnelName(long1), DeriveTunnelName(long2)
	if len(n1) > 64 || !ValidTunnelName(n1) || n1 == n2 || n1 != DeriveTunnelName(long1) {
		t.Errorf("long names: %q %q", n1, n2)
	}
}

func FuzzDeriveTunnelName(f *testing.F) {
	for _, s := range []string{"vault.example.com", strings.Repeat("x.", 100), "-", "ÄÖ.example.com", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		n := DeriveTunnelName(h)
		if n != DeriveTunnelName(h) || len(n) > 64 || !strings.HasPrefix(n, "parachute") {
			t.Fatalf("DeriveTunnelName(%q) = %q", h, n)
		}
		if ValidHostname(h) && !ValidTunnelName(n) {
			t.Fatalf("valid hostname %q gave invalid tunnel name %q", h, n)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(tsStatusRunning, "1.82.0")))
	f.Add([]byte(fmt.Sprintf(tsStatusLoggedOut, "1.80.3")))
	f.Add([]byte(`{"Web":{"h:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:1939"}}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, err := parseStatus(b); err == nil && st.FunnelCapable && !st.LoggedIn() {
			t.Fatalf("funnel capable while logged out: %+v", st)
		}
		_, _ = parseServeHandlers(b, "h:443")
		_, _ = parseTSVersion(string(b))
	})
}

// TestCloudflareUpWithoutAServiceManager: with no service manager the
// tunnel is recorded for the hub to run, and off needs no manager either.
func TestCloudflareUpWithoutAServiceManager(t *testing.T) {
	for _, mgr := range []servicemgr.Manager{nil, &exposetest.Manager{KindOf: servicemgr.KindNone}} {
		fake, root, home := cfSetup(t, true)
		cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
		var log strings.Builder
		logf := func(f string, a ...any) { fmt.Fprintf(&log, f, a...) }
		_, tun, err := cf.Up(context.Background(), CloudflareOptions{Root: root, Hostname: "hub.example.com", HubPort: 1939, Mgr: mgr, Logf: logf})
		if err != nil {
			t.Fatal(err)
		}
		argvLog(t, fake)
		if tun.Connector != state.ConnectorHub || tun.Unit != "" || !filepath.IsAbs(tun.Cloudflared) {
			t.Errorf("tunnel = %+v, want a hub-run connector with an absolute cloudflared", tun)
		}
		st, err := state.Load(root)
		if err != nil || st.Providers[state.Cloudflare].Tunnels[tun.Name].Connector != state.ConnectorHub {
			t.Fatalf("state %+v, %v", st, err)
		}
		if !strings.Contains(log.String(), "the hub runs the connector") {
			t.Errorf("log:\n%s", log.String())
		}
		removed, err := cf.Down(context.Background(), root, "", nil, logf)
		if err != nil || len(removed) != 1 {
			t.Fatalf("Down = %v, %v", removed, err)
		}
		if _, err := os.Stat(filepath.Join(root, state.StateFile)); !os.IsNotExist(err) {
			t.Errorf("state file left after off: %v", err)
		}
	}
}
