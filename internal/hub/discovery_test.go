package hub

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
)

// TestDiscoveryIgnoresRequestHost is issue 10: the discovery document used
// to build its URLs from the request's Host, so `Host: evil.com` got a
// public document pointing clients at http://evil.com/echo.
func TestDiscoveryIgnoresRequestHost(t *testing.T) {
	cases := []struct {
		name    string
		origins Origins
		host    string
		proto   string // X-Forwarded-Proto
		want    string // origin of every URL in the document
	}{
		{"evil host, nothing configured", Origins{Port: 1939}, "evil.com", "", "http://127.0.0.1:1939"},
		{"evil host with our port", Origins{Port: 1939}, "evil.com:1939", "https", "http://127.0.0.1:1939"},
		{"evil host, origin configured", Origins{Port: 1939, Configured: "https://hub.example"}, "evil.com", "", "https://hub.example"},
		{"evil host, extra hosts allowed", Origins{Port: 1939, ExtraHosts: []string{"box.tailnet.ts.net"}}, "evil.com", "", "http://127.0.0.1:1939"},
		{"empty host", Origins{Port: 1939}, "", "", "http://127.0.0.1:1939"},
		{"loopback", Origins{Port: 1939}, "127.0.0.1:1939", "", "http://127.0.0.1:1939"},
		{"localhost without port", Origins{Port: 1939}, "LOCALHOST", "", "http://localhost:1939"},
		{"ipv6 loopback", Origins{Port: 1939}, "[::1]:1939", "", "http://[::1]:1939"},
		{"loopback on another port", Origins{Port: 1939}, "localhost:8080", "", "http://127.0.0.1:1939"},
		{"allowed tailnet host behind tls", Origins{Port: 1939, ExtraHosts: []string{"box.tailnet.ts.net"}}, "BOX.tailnet.ts.net", "https", "https://box.tailnet.ts.net"},
		{"configured wins over allowed host", Origins{Port: 1939, Configured: "https://hub.example", ExtraHosts: []string{"box.tailnet.ts.net"}}, "box.tailnet.ts.net", "", "https://hub.example"},
	}
	p := discoveryRoot(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(Options{Paths: p, Origins: c.origins})
			r := httptest.NewRequest(http.MethodGet, "/.well-known/parachute.json", nil)
			r.Host = c.host
			if c.proto != "" {
				r.Header.Set("X-Forwarded-Proto", c.proto)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			raw := w.Body.String()
			if strings.Contains(strings.ToLower(raw), "evil") {
				t.Fatalf("the document reflects the request's Host:\n%s", raw)
			}
			var doc struct {
				Services []discoveryService `json:"services"`
				Vaults   []discoveryVault   `json:"vaults"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Services) != 2 || len(doc.Vaults) != 1 { // the vault is a service too
				t.Fatalf("document:\n%s", raw)
			}
			for _, u := range []string{doc.Services[0].URL, doc.Services[0].InfoURL, doc.Services[1].URL, doc.Vaults[0].URL} {
				if !strings.HasPrefix(u, c.want+"/") {
					t.Errorf("URL %q, want it on %s", u, c.want)
				}
			}
		})
	}
}

// FuzzPublicOrigin: whatever the Host and X-Forwarded-Proto headers say,
// the origin of the discovery document is one of the hub's own.
func FuzzPublicOrigin(f *testing.F) {
	for _, h := range []string{"", "evil.com", "evil.com:1939", "127.0.0.1:1939", "localhost", "[::1]:1939", "[::1", "BOX.tailnet.ts.net",
		"box.tailnet.ts.net:1939", "localhost:1939@evil.com", "127.0.0.1:1939/evil", "box.tailnet.ts.net.evil.com"} {
		f.Add(h, "https", false, false)
		f.Add(h, "", true, false)
		f.Add(h, "", false, true)
	}
	f.Fuzz(func(t *testing.T, host, proto string, configured, exposed bool) {
		o := Origins{Port: 1939, ExtraHosts: []string{"box.tailnet.ts.net"}}
		if configured {
			o.Configured = "https://hub.example"
		}
		if exposed {
			o.Exposed = func() []string { return []string{"https://hub.example.org"} }
		}
		s := &Server{origins: o}
		r := httptest.NewRequest(http.MethodGet, "/.well-known/parachute.json", nil)
		r.Host = host
		r.Header.Set("X-Forwarded-Proto", proto)
		got := s.publicOrigin(r)
		allowed := map[string]bool{o.Loopback(): true, "http://localhost:1939": true, "http://[::1]:1939": true,
			"http://box.tailnet.ts.net": true, "https://box.tailnet.ts.net": true}
		if exposed {
			allowed["https://hub.example.org"] = true
		}
		if configured {
			allowed = map[string]bool{"https://hub.example": true}
		}
		if !allowed[got] {
			t.Fatalf("Host %q, X-Forwarded-Proto %q: origin %q is not one of the hub's own", host, proto, got)
		}
	})
}

// TestDiscoveryMatchesReference compares the discovery document, member by
// member, with the reference's for the same services.json and module.json
// files (testdata/discovery/README.md says where each member comes from).
func TestDiscoveryMatchesReference(t *testing.T) {
	dir, err := filepath.Abs("testdata/discovery")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := config.Paths{Root: t.TempDir()}
	if err := os.WriteFile(p.ServicesJSON(), []byte(strings.ReplaceAll(string(raw), "ROOT", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Paths: p, Origins: Origins{Port: 1939, Configured: "https://hub.example.ts.net"}})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/parachute.json", nil))
	if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", w.Code, w.Header())
	}
	var got, want map[string]any
	decodeBody(t, w.Body.Bytes(), &got)
	exp, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	decodeBody(t, exp, &want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("discovery document differs from the reference's (-reference +ours):\n%s", d)
	}
}

// TestDiscoveryFollowsTheHubOrigin is issue 11's "one hub origin": the
// discovery document is on the origin the hub mints with, so the admin's
// hub_settings.hub_origin and an exposure (a phone asking through
// Tailscale Serve or a Cloudflare Tunnel) get URLs they can reach, never
// the hub's loopback address. A request on the box itself keeps its
// loopback spelling (the reference's request origin).
func TestDiscoveryFollowsTheHubOrigin(t *testing.T) {
	exposed := func(o ...string) func() []string { return func() []string { return o } }
	setting := func(v string) func() string { return func() string { return v } }
	cases := []struct {
		name    string
		origins Origins
		host    string
		want    string
	}{
		{"setting, loopback request", Origins{Port: 1939, Setting: setting("https://hub.example.com")}, "127.0.0.1:1939", "https://hub.example.com"},
		{"setting wins over the environment", Origins{Port: 1939, Configured: "https://env.example", Setting: setting("https://hub.example.com")}, "127.0.0.1:1939", "https://hub.example.com"},
		{"setting wins over an exposure", Origins{Port: 1939, Setting: setting("https://hub.example.com"), Exposed: exposed("https://box.tail1234.ts.net")}, "box.tail1234.ts.net", "https://hub.example.com"},
		{"environment wins over an exposure", Origins{Port: 1939, Configured: "https://env.example", Exposed: exposed("https://box.tail1234.ts.net")}, "box.tail1234.ts.net", "https://env.example"},
		{"through tailscale serve", Origins{Port: 1939, Exposed: exposed("https://box.tail1234.ts.net")}, "box.tail1234.ts.net", "https://box.tail1234.ts.net"},
		{"through the second exposure", Origins{Port: 1939, Exposed: exposed("https://box.tail1234.ts.net", "https://hub.example.org")}, "HUB.example.org", "https://hub.example.org"},
		{"unknown host while exposed", Origins{Port: 1939, Exposed: exposed("https://box.tail1234.ts.net")}, "evil.com", "https://box.tail1234.ts.net"},
		{"loopback request while exposed", Origins{Port: 1939, Exposed: exposed("https://box.tail1234.ts.net")}, "127.0.0.1:1939", "http://127.0.0.1:1939"},
	}
	p := discoveryRoot(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(Options{Paths: p, Origins: c.origins})
			for _, path := range []string{"/.well-known/parachute.json", "/hub.html"} {
				r := httptest.NewRequest(http.MethodGet, path, nil)
				r.Host = c.host
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					t.Fatalf("%s: status %d: %s", path, w.Code, w.Body)
				}
				if !strings.Contains(w.Body.String(), c.want+"/echo") {
					t.Errorf("%s: want URLs on %s, got:\n%s", path, c.want, w.Body)
				}
			}
		})
	}
}

// discoveryRoot is a config root whose services.json lists two modules,
// echo and the default vault, for the discovery documents to show.
func discoveryRoot(t *testing.T) config.Paths {
	t.Helper()
	p := config.Paths{Root: t.TempDir()}
	if err := os.WriteFile(p.ServicesJSON(), []byte(`{"services":[
		{"name":"echo","port":1950,"paths":["/echo"],"health":"/echo/health","version":"1.0.0"},
		{"name":"parachute-vault","port":1940,"paths":["/vault/default"],"health":"/vault/default/health","version":"2.0.0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
