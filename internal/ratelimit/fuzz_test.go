package ratelimit

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP feeds arbitrary peer addresses and header values through
// every header mode. Invariants: no panic; an untrusted peer always keys by
// itself; a trusted peer keys by itself or by an address that appears in
// the header it was told to believe.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "203.0.113.7, 10.0.0.2", `for="[2001:db8::1]:80";proto=https, for=10.0.0.9`)
	f.Add("203.0.113.9:5", "1.1.1.1", "for=1.1.1.1")
	f.Add("[::1]:1", "[::1]:80,::ffff:1.2.3.4", `for="\"[::1]\"", for=unknown;by=_x`)
	f.Add("127.0.0.1:1", ",,, ", `for=";,`)
	f.Add("10.0.0.1", "fe80::1%eth0, 10.1.1.1:99999", "For = 10.0.0.5 ; ;,")
	headers := []string{HeaderXForwardedFor, HeaderForwarded, HeaderXRealIP, HeaderCFConnectingIP}
	trusted, _ := ParseTrustedProxies("10.0.0.0/8 127.0.0.1 ::1")
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		for _, h := range headers {
			k, err := NewKeyer(trusted, h)
			if err != nil {
				t.Fatal(err)
			}
			val := xff
			if h == HeaderForwarded {
				val = fwd
			}
			r := req(remote, h, val)
			got, ok := k.ClientIP(r)
			peer, pok := parsePeer(remote)
			if ok != pok {
				t.Fatalf("ClientIP ok=%v but peer parse ok=%v for %q", ok, pok, remote)
			}
			if !ok {
				if k.Key(r) != UnknownKey {
					t.Fatalf("unparseable peer %q not keyed as unknown", remote)
				}
				continue
			}
			if got.Zone() != "" || got.Is4In6() {
				t.Fatalf("ClientIP = %v: zone or 4in6 leaked", got)
			}
			if !k.isTrusted(peer) && got != peer {
				t.Fatalf("untrusted peer %v keyed as %v via %s: %q", peer, got, h, val)
			}
			if got != peer && !mentions(val, got) {
				t.Fatalf("ClientIP %v appears nowhere in %s: %q", got, h, val)
			}
			if key := AddrKey(got); key == "" {
				t.Fatal("empty key")
			}
		}
	})
}

// mentions reports whether some token of v parses to a.
func mentions(v string, a netip.Addr) bool {
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(",;= \"\t", r) }) {
		if h, err := parseHop(strings.Trim(f, `\`)); err == nil && h == a {
			return true
		}
	}
	return false
}
