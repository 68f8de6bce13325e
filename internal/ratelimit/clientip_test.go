package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func req(remote string, hdr ...string) *http.Request {
	r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func mustKeyer(t *testing.T, trusted, header string) *Keyer {
	t.Helper()
	p, err := ParseTrustedProxies(trusted)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKeyer(p, header)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var spoofHeaders = []string{
	"X-Forwarded-For", "198.51.100.1",
	"X-Forwarded-For", "198.51.100.2, 198.51.100.3",
	"X-Real-IP", "198.51.100.4",
	"Forwarded", "for=198.51.100.5",
	"CF-Connecting-IP", "198.51.100.6",
	"True-Client-IP", "198.51.100.7",
}

// TestSpoofedHeadersFromUntrustedPeer: whatever a direct client sends, and
// whichever header the hub is told to believe, the key is its own address.
func TestSpoofedHeadersFromUntrustedPeer(t *testing.T) {
	for _, header := range []string{"", "X-Forwarded-For", "X-Real-IP", "Forwarded", "CF-Connecting-IP"} {
		for _, trusted := range []string{"", "10.0.0.0/8, ::1"} {
			k := mustKeyer(t, trusted, header)
			for _, tc := range []struct{ remote, want string }{
				{"203.0.113.9:51000", "203.0.113.9"},
				{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
				{"[::ffff:203.0.113.9]:80", "203.0.113.9"},
			} {
				if got := k.Key(req(tc.remote, spoofHeaders...)); got != tc.want {
					t.Errorf("header=%q trusted=%q remote=%s: Key = %q; want %q", header, trusted, tc.remote, got, tc.want)
				}
			}
		}
	}
}

func TestTrustedProxyChain(t *testing.T) {
	const trusted = "10.0.0.0/8, 127.0.0.1, ::1, 2001:db8:ffff::/48"
	for _, tc := range []struct {
		name, header, remote string
		hdr                  []string
		want                 string
	}{
		{"no header: the proxy itself", "", "10.0.0.1:1", nil, "10.0.0.1"},
		{"one hop", "", "10.0.0.1:1", []string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
		{"client-prepended spoof ignored", "", "10.0.0.1:1", []string{"X-Forwarded-For", "1.1.1.1, 203.0.113.7"}, "203.0.113.7"},
		{"chain of trusted proxies skipped", "", "127.0.0.1:1", []string{"X-Forwarded-For", "9.9.9.9, 203.0.113.7, 10.1.2.3, 10.0.0.2"}, "203.0.113.7"},
		{"several header lines in order", "", "10.0.0.1:1", []string{"X-Forwarded-For", "9.9.9.9", "X-Forwarded-For", "203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"all hops trusted: left-most", "", "10.0.0.1:1", []string{"X-Forwarded-For", "10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"garbage right of the client stops at the proxy", "", "10.0.0.1:1", []string{"X-Forwarded-For", "203.0.113.7, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"empty hop", "", "10.0.0.1:1", []string{"X-Forwarded-For", "203.0.113.7,"}, "10.0.0.1"},
		{"hop with port", "", "10.0.0.1:1", []string{"X-Forwarded-For", "203.0.113.7:5555"}, "203.0.113.7"},
		{"v6 hop with brackets and port", "", "[::1]:1", []string{"X-Forwarded-For", "[2001:db8:aa:bb::1]:443"}, "2001:db8:aa:bb::/64"},
		{"v6 proxy range skipped", "", "[::1]:1", []string{"X-Forwarded-For", "2001:db8:aa:bb::1, 2001:db8:ffff:1::9"}, "2001:db8:aa:bb::/64"},
		{"other headers ignored when XFF is the one", "", "10.0.0.1:1", []string{"X-Real-IP", "9.9.9.9", "Forwarded", "for=9.9.9.9"}, "10.0.0.1"},
		{"Forwarded quoted v6 with port", "Forwarded", "10.0.0.1:1", []string{"Forwarded", `for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.9`}, "2001:db8:cafe::/64"},
		{"Forwarded spoof left of the proxy's element", "Forwarded", "10.0.0.1:1", []string{"Forwarded", `for=9.9.9.9, for=203.0.113.7;by=10.0.0.1`}, "203.0.113.7"},
		{"Forwarded case and spaces", "forwarded", "10.0.0.1:1", []string{"Forwarded", `For = "203.0.113.7" ; Proto=http`}, "203.0.113.7"},
		{"Forwarded comma inside quotes", "Forwarded", "10.0.0.1:1", []string{"Forwarded", `for=203.0.113.7;x="a,for=9.9.9.9"`}, "203.0.113.7"},
		{"Forwarded unknown stops", "Forwarded", "10.0.0.1:1", []string{"Forwarded", `for=9.9.9.9, for=unknown`}, "10.0.0.1"},
		{"Forwarded element without for stops", "Forwarded", "10.0.0.1:1", []string{"Forwarded", `for=9.9.9.9, proto=https`}, "10.0.0.1"},
		{"X-Real-IP", "X-Real-IP", "10.0.0.1:1", []string{"X-Real-IP", " 203.0.113.7 ", "X-Forwarded-For", "9.9.9.9"}, "203.0.113.7"},
		{"X-Real-IP last line wins", "x-real-ip", "10.0.0.1:1", []string{"X-Real-IP", "9.9.9.9", "X-Real-IP", "203.0.113.7"}, "203.0.113.7"},
		{"X-Real-IP garbage", "X-Real-IP", "10.0.0.1:1", []string{"X-Real-IP", "nope"}, "10.0.0.1"},
		{"CF-Connecting-IP", "CF-Connecting-IP", "127.0.0.1:1", []string{"CF-Connecting-IP", "2001:db8:1::5"}, "2001:db8:1::/64"},
		{"4in6 hop unmapped", "", "10.0.0.1:1", []string{"X-Forwarded-For", "::ffff:203.0.113.7"}, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustKeyer(t, trusted, tc.header).Key(req(tc.remote, tc.hdr...)); got != tc.want {
				t.Errorf("Key = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestUnparseablePeer(t *testing.T) {
	k := mustKeyer(t, "0.0.0.0/0", "")
	for _, remote := range []string{"", "@", "pipe", "1.2.3.4:"} {
		if got := k.Key(req(remote, "X-Forwarded-For", "203.0.113.7")); got != UnknownKey {
			t.Errorf("Key(remote %q) = %q; want %q", remote, got, UnknownKey)
		}
	}
	if got := k.Key(req("203.0.113.8")); got != "203.0.113.8" {
		t.Errorf("bare IP peer: Key = %q", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.1.2.3/8,127.0.0.1 ::1\t::ffff:192.168.0.0/112, fe80::1%eth0 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("fe80::1/128"),
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if p, err := ParseTrustedProxies(""); err != nil || p != nil {
		t.Errorf("empty = %v, %v", p, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "10.0.0.0/8,,nope"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) succeeded", bad)
		}
	}
}

func TestKeyerFromEnv(t *testing.T) {
	env := map[string]string{EnvTrustedProxies: "127.0.0.1", EnvClientIPHeader: "cf-connecting-ip"}
	k, err := KeyerFromEnv(func(s string) string { return env[s] })
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Key(req("127.0.0.1:9", "CF-Connecting-IP", "203.0.113.7", "X-Forwarded-For", "9.9.9.9")); got != "203.0.113.7" {
		t.Errorf("Key = %q", got)
	}
	env[EnvClientIPHeader] = "True-Client-IP"
	if _, err := KeyerFromEnv(func(s string) string { return env[s] }); err == nil || !strings.Contains(err.Error(), EnvClientIPHeader) {
		t.Errorf("unsupported header: err = %v; want one naming %s", err, EnvClientIPHeader)
	}
	env[EnvTrustedProxies] = "nope"
	if _, err := KeyerFromEnv(func(s string) string { return env[s] }); err == nil || !strings.Contains(err.Error(), EnvTrustedProxies) {
		t.Errorf("bad proxies: err = %v; want one naming %s", err, EnvTrustedProxies)
	}
}
