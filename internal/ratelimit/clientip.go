package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Environment variables the hub reads to build its Keyer (see KeyerFromEnv).
const (
	// EnvTrustedProxies lists the reverse proxies whose client-IP header is
	// believed: comma- or space-separated CIDRs or bare IPs, e.g.
	// "127.0.0.1/32,::1" for a cloudflared or Caddy on the same machine.
	EnvTrustedProxies = "PARACHUTE_TRUSTED_PROXIES"
	// EnvClientIPHeader names the header those proxies write; it defaults to
	// X-Forwarded-For.
	EnvClientIPHeader = "PARACHUTE_CLIENT_IP_HEADER"
)

// Client-IP headers a trusted proxy may write. The list headers
// (X-Forwarded-For, Forwarded) are read right to left; the others carry one
// address.
const (
	HeaderXForwardedFor  = "X-Forwarded-For"
	HeaderForwarded      = "Forwarded"
	HeaderXRealIP        = "X-Real-Ip"
	HeaderCFConnectingIP = "Cf-Connecting-Ip"
)

// UnknownKey is the key of a request whose peer address cannot be parsed
// (never the case for the hub's TCP listener); such requests share a bucket.
const UnknownKey = "unknown"

// Keyer derives a rate-limit key from a request: the peer address from
// r.RemoteAddr, or, only when that peer is a trusted proxy, the right-most
// address in the proxy's header that is not itself a trusted proxy.
//
// Why one header and not "whichever is present": a proxy writes (or appends
// to) one header and passes the others through from the client untouched,
// so believing a second header would let any client choose its own key.
// Why right-most: a client can prepend anything to X-Forwarded-For; only the
// hops our own proxies appended are true, and the first untrusted one from
// the right is the address that connected to them.
//
// A Keyer is immutable and safe for concurrent use.
type Keyer struct {
	trusted []netip.Prefix
	header  string
}

// NewKeyer returns a Keyer that believes header (canonicalised; empty means
// X-Forwarded-For) only from peers inside trusted. With no trusted prefixes
// every request is keyed by its peer address and headers are ignored.
func NewKeyer(trusted []netip.Prefix, header string) (*Keyer, error) {
	h := http.CanonicalHeaderKey(strings.TrimSpace(header))
	switch h {
	case "":
		h = HeaderXForwardedFor
	case HeaderXForwardedFor, HeaderForwarded, HeaderXRealIP, HeaderCFConnectingIP:
	default:
		return nil, fmt.Errorf("unsupported client-IP header %q: set %s to one of X-Forwarded-For, Forwarded, X-Real-IP, CF-Connecting-IP", header, EnvClientIPHeader)
	}
	return &Keyer{trusted: append([]netip.Prefix(nil), trusted...), header: h}, nil
}

// KeyerFromEnv builds the hub's Keyer from EnvTrustedProxies and
// EnvClientIPHeader, read through getenv (os.Getenv in production).
func KeyerFromEnv(getenv func(string) string) (*Keyer, error) {
	trusted, err := ParseTrustedProxies(getenv(EnvTrustedProxies))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", EnvTrustedProxies, err)
	}
	return NewKeyer(trusted, getenv(EnvClientIPHeader))
}

// ParseTrustedProxies parses a comma- or space-separated list of CIDRs and
// bare IPs (a bare IP trusts that one address). An empty list trusts nobody.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		var p netip.Prefix
		if strings.Contains(f, "/") {
			pp, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not a CIDR such as 10.0.0.0/8 or ::1/128: %w", f, err)
			}
			p = pp
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an IP address or CIDR: %w", f, err)
			}
			a = a.WithZone("")
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, unmapPrefix(p.Masked()))
	}
	return out, nil
}

// unmapPrefix turns ::ffff:a.b.c.d/n (n ≥ 96) into a.b.c.d/(n-96), because
// peers are unmapped before matching and would otherwise never fall inside.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// Key returns the rate-limit key of r: the client address, with IPv6
// clients grouped by their /64 (one subscriber's LAN), or UnknownKey.
func (k *Keyer) Key(r *http.Request) string {
	a, ok := k.ClientIP(r)
	if !ok {
		return UnknownKey
	}
	return AddrKey(a)
}

// AddrKey is the bucket key of one address: the address itself for IPv4,
// its /64 prefix for IPv6.
func AddrKey(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// ClientIP returns the client address of r as described on Keyer, and false
// if the peer address itself cannot be parsed.
func (k *Keyer) ClientIP(r *http.Request) (netip.Addr, bool) {
	peer, ok := parsePeer(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if !k.isTrusted(peer) {
		return peer, true
	}
	values := r.Header.Values(k.header)
	if len(values) == 0 {
		return peer, true
	}
	switch k.header {
	case HeaderXForwardedFor:
		return k.rightmostUntrusted(peer, splitXFF(values)), true
	case HeaderForwarded:
		return k.rightmostUntrusted(peer, forwardedFor(values)), true
	default:
		// A single-address header: a proxy sets it, replacing any value the
		// client sent, so the last line is the proxy's.
		if a, err := parseHop(values[len(values)-1]); err == nil {
			return a, true
		}
		return peer, true
	}
}

// rightmostUntrusted walks hops from the right. It returns the first hop
// that is not a trusted proxy; at an unparseable hop (garbage, "unknown", an
// obfuscated Forwarded node) it stops and returns the nearest trusted hop to
// its right, since nothing left of it was written by a proxy we trust; if
// every hop is trusted it returns the left-most.
func (k *Keyer) rightmostUntrusted(peer netip.Addr, hops []string) netip.Addr {
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseHop(hops[i])
		if err != nil {
			return last
		}
		if !k.isTrusted(a) {
			return a
		}
		last = a
	}
	return last
}

// PeerTrusted reports whether the peer that sent r (r.RemoteAddr, not any
// header) is one of the trusted proxies, i.e. whether the forwarding
// headers on r were written by a proxy we believe.
func (k *Keyer) PeerTrusted(r *http.Request) bool {
	peer, ok := parsePeer(r.RemoteAddr)
	return ok && k.isTrusted(peer)
}

// Trusted returns a copy of the trusted proxy prefixes, for the other
// decisions that believe a forwarding header only from them (the Secure
// flag of cookies: sessions.DefaultSecure).
func (k *Keyer) Trusted() []netip.Prefix { return append([]netip.Prefix(nil), k.trusted...) }

func (k *Keyer) isTrusted(a netip.Addr) bool {
	for _, p := range k.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parsePeer reads r.RemoteAddr ("ip:port", or a bare IP from some test
// servers), dropping any zone and unmapping IPv4-in-IPv6.
func parsePeer(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

var errBadHop = errors.New("not an IP address")

// parseHop reads one hop as proxies write them: "1.2.3.4", "1.2.3.4:80",
// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:80", with optional
// surrounding space.
func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, errBadHop
		}
		if rest := s[end+1:]; rest != "" && !isPort(rest) {
			return netip.Addr{}, errBadHop
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() {
			return netip.Addr{}, errBadHop
		}
		return a.WithZone("").Unmap(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Is4() {
		return ap.Addr(), nil
	}
	return netip.Addr{}, errBadHop
}

func isPort(s string) bool {
	if len(s) < 2 || len(s) > 6 || s[0] != ':' {
		return false
	}
	return strings.Trim(s[1:], "0123456789") == ""
}

// splitXFF flattens X-Forwarded-For lines, in order, into hops.
func splitXFF(values []string) []string {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	return hops
}
