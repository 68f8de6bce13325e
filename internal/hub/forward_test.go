package hub

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/ratelimit"
)

// seen is what the helper module's /headers mode reports.
type seen struct {
	Path    string      `json:"path"`
	Host    string      `json:"host"`
	Headers http.Header `json:"headers"`
}

// fetchSeen sends req through the hub and decodes what the module saw.
func fetchSeen(t *testing.T, req *http.Request) seen {
	t.Helper()
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", req.URL.Path, resp.StatusCode, b)
	}
	var s seen
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return s
}

// TestProxyForwardedHeaders: what a real module receives, from a peer that
// is not a trusted proxy and from one that is.
func TestProxyForwardedHeaders(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	h.writeRows(h.startHelperModule("hdr", nil))

	spoofing := func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, h.url("/hdr/headers"), nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("X-Forwarded-Host", "vault.example.com")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Forwarded", "for=203.0.113.9;proto=https")
		return req
	}
	pick := func(s seen) map[string]string {
		return map[string]string{
			"X-Forwarded-For":   strings.Join(s.Headers.Values("X-Forwarded-For"), ","),
			"X-Forwarded-Host":  s.Headers.Get("X-Forwarded-Host"),
			"X-Forwarded-Proto": s.Headers.Get("X-Forwarded-Proto"),
			"Forwarded":         s.Headers.Get("Forwarded"),
			"Host":              s.Host,
		}
	}

	t.Run("untrusted peer", func(t *testing.T) {
		got := pick(fetchSeen(t, spoofing()))
		want := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": h.addr,
			"X-Forwarded-Proto": "http", "Forwarded": "", "Host": h.addr}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("a client's own X-Forwarded-* reached the module (-want +got):\n%s", d)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		k, err := ratelimit.NewKeyer([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "")
		if err != nil {
			t.Fatal(err)
		}
		h.s.trust = k
		t.Cleanup(func() { h.s.trust, _ = ratelimit.NewKeyer(nil, "") })
		got := pick(fetchSeen(t, spoofing()))
		want := map[string]string{"X-Forwarded-For": "203.0.113.9, 127.0.0.1", "X-Forwarded-Host": "vault.example.com",
			"X-Forwarded-Proto": "https", "Forwarded": "", "Host": h.addr}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("a trusted proxy's chain (-want +got):\n%s", d)
		}
	})
	t.Run("hop-by-hop and hub cookies", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, h.url("/hdr/headers"), nil)
		req.Header.Set("Connection", "X-Private-Hop")
		req.Header.Set("X-Private-Hop", "1")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("Te", "gzip")
		req.Header.Set("Proxy-Authorization", "Basic cHJveHk6cHc=")
		req.Header.Set("Authorization", "Bearer module-token")
		req.Header.Add("Cookie", "parachute_hub_session=S; theme=dark; parachute_hub_csrf=C")
		req.Header.Add("Cookie", "__Host-parachute_hub_session=S2; parachute_hub_pending_login=P; mod_sid=a=b")
		s := fetchSeen(t, req)
		for _, hop := range []string{"Connection", "X-Private-Hop", "Keep-Alive", "Te", "Proxy-Authorization"} {
			if v, ok := s.Headers[hop]; ok {
				t.Errorf("hop-by-hop header %s reached the module: %q", hop, v)
			}
		}
		if got := s.Headers.Get("Authorization"); got != "Bearer module-token" {
			t.Errorf("Authorization = %q, want it forwarded", got)
		}
		if got := s.Headers.Values("Cookie"); !cmp.Equal(got, []string{"theme=dark; mod_sid=a=b"}) {
			t.Errorf("Cookie = %q, want only the module's cookies", got)
		}
	})
	t.Run("only hub cookies", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, h.url("/hdr/headers"), nil)
		req.Header.Set("Cookie", "parachute_hub_session=S")
		if got, ok := fetchSeen(t, req).Headers["Cookie"]; ok {
			t.Errorf("Cookie = %q, want no Cookie header", got)
		}
	})
}

// TestProxyDropsHubSetCookies: a module cannot set the hub's own cookies in
// the operator's browser; its own cookies pass.
func TestProxyDropsHubSetCookies(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	h.writeRows(h.startHelperModule("setter", nil))
	q := url.Values{"c": {"parachute_hub_session=planted; Path=/; HttpOnly", "mod_sid=1; Path=/setter",
		"__Host-parachute_hub_csrf=x; Path=/; Secure", " parachute_hub_pending_login=p", "theme=dark"}}
	resp, err := http.Get(h.url("/setter/setcookie?" + q.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Values("Set-Cookie"), []string{"mod_sid=1; Path=/setter", "theme=dark"}; !cmp.Equal(got, want) {
		t.Errorf("Set-Cookie = %q, want %q", got, want)
	}
}

func TestFilterCookies(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"none", nil, ""},
		{"others kept verbatim", []string{`a=1; b="x y"`}, `a=1; b="x y"`},
		{"hub cookies dropped", []string{"parachute_hub_csrf=1;a=2 ; parachute_hub_session=3"}, "a=2"},
		{"prefixed", []string{"__Secure-parachute_hub_csrf=1; __Host-parachute_hub_pending_login=2; x=3"}, "x=3"},
		{"case matters", []string{"Parachute_Hub_Session=1"}, "Parachute_Hub_Session=1"},
		{"lookalike kept", []string{"parachute_hub_session2=1; parachute_hub_sessio=2"}, "parachute_hub_session2=1; parachute_hub_sessio=2"},
		{"spaces around name", []string{" parachute_hub_session =1; a"}, "a"},
		{"several lines", []string{"a=1", "parachute_hub_session=2", "b=3"}, "a=1; b=3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := filterCookies(c.lines); got != c.want {
				t.Errorf("filterCookies(%q) = %q, want %q", c.lines, got, c.want)
			}
		})
	}
}

// FuzzFilterCookies: whatever a browser (or attacker) sends, no hub cookie
// survives and every surviving pair was in the input.
func FuzzFilterCookies(f *testing.F) {
	for _, s := range []string{"", "a=1", "parachute_hub_session=x; a=1", "__Host-parachute_hub_csrf=1;;;", "=;=", "parachute_hub_session"} {
		f.Add(s, "b=2")
	}
	f.Fuzz(func(t *testing.T, l1, l2 string) {
		out := filterCookies([]string{l1, l2})
		if out == "" {
			return
		}
		for _, pair := range strings.Split(out, "; ") {
			name, _, _ := strings.Cut(pair, "=")
			if isHubCookie(strings.TrimSpace(name)) {
				t.Fatalf("hub cookie %q survived in %q", pair, out)
			}
			if !strings.Contains(l1, pair) && !strings.Contains(l2, pair) {
				t.Fatalf("pair %q was not in the input", pair)
			}
		}
	})
}

// TestLoopbackGate: a publicExposure:"loopback" module answers 404 to any
// request that came through an exposure layer; other modules do not care.
func TestLoopbackGate(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	h.writeRows(h.startHelperModule("private", map[string]any{"publicExposure": "loopback"}),
		h.startHelperModule("open", nil))
	cases := []struct {
		name, path, header string
		want               int
	}{
		{"local client", "/private/x", "", 200},
		{"cloudflare", "/private/x", "Cf-Ray", 404},
		{"cloudflare ip", "/private/x", "Cf-Connecting-Ip", 404},
		{"funnel", "/private/x", "Tailscale-Funnel-Request", 404},
		{"tailnet", "/private/x", "Tailscale-User-Login", 404},
		{"a proxy", "/private/x", "X-Forwarded-For", 404},
		{"rfc 7239 proxy", "/private/x", "Forwarded", 404},
		{"open module via cloudflare", "/open/x", "Cf-Ray", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.url(c.path), nil)
			if c.header != "" {
				req.Header.Set(c.header, "1")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("GET %s with %s = %d %s, want %d", c.path, c.header, resp.StatusCode, b, c.want)
			}
		})
	}
}

// TestViaExposurePeer: a client on the LAN reaching a hub bound beyond
// loopback counts as exposed even without any header (the reference
// treated it as loopback).
func TestViaExposurePeer(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": false, "127.0.0.2:5000": false, "[::1]:5000": false, "[::ffff:127.0.0.1]:5000": false,
		"192.168.1.20:5000": true, "[fd7a:115c:a1e0::1]:5000": true, "100.64.0.7:5000": true, "garbage": true, "": true,
	} {
		r := &http.Request{RemoteAddr: addr, Header: http.Header{}}
		if got := viaExposure(r); got != want {
			t.Errorf("viaExposure(peer %q) = %v, want %v", addr, got, want)
		}
	}
}
