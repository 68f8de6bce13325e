package hub

import (
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"

	"github.com/openparachute/parachute/internal/api"
)

// How a proxied request is rewritten on its way to a module, and how the
// hub decides whether it came through an exposure layer.

// forwardHeaders sets the X-Forwarded-* headers of the request a module
// receives and removes what the module must not see. httputil.ReverseProxy
// has already dropped the hop-by-hop headers (Connection and what it names,
// Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade except for a
// WebSocket upgrade) and, because we use Rewrite, every Forwarded and
// X-Forwarded-* header the client sent.
//
// Why the peer decides: a client can write any X-Forwarded-* header it
// likes, and a module that reads X-Forwarded-For for its own rate limit or
// X-Forwarded-Proto to decide on Secure cookies would believe it. Only when
// the peer is a trusted proxy (PARACHUTE_TRUSTED_PROXIES, the same list the
// rate limiter uses) do its chain, host and scheme travel on; otherwise the
// module sees the peer address, the Host the hub was asked for and the
// scheme the hub itself served.
func (s *Server) forwardHeaders(pr *httputil.ProxyRequest) {
	trusted := s.trust.PeerTrusted(pr.In)
	if trusted {
		if prior := pr.In.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			pr.Out.Header["X-Forwarded-For"] = append([]string(nil), prior...)
		}
	}
	pr.SetXForwarded() // appends the peer; sets Host and Proto from the hub's view
	if trusted {
		if h := pr.In.Header.Get("X-Forwarded-Host"); h != "" {
			pr.Out.Header.Set("X-Forwarded-Host", h)
		}
		switch p := strings.ToLower(strings.TrimSpace(strings.Split(pr.In.Header.Get("X-Forwarded-Proto"), ",")[0])); p {
		case "http", "https":
			pr.Out.Header.Set("X-Forwarded-Proto", p)
		}
	}
	stripHubCookies(pr.Out.Header)
}

// stripHubCookies removes the hub's own cookies (api.HubCookies) from the
// Cookie header, keeping every other cookie byte for byte. Why: the admin
// session and CSRF cookies are scoped Path=/ on the hub's origin, so the
// browser sends them with every request to a module's mount as well; a
// module (third-party code) that received them could act as the operator on
// the hub's admin pages.
func stripHubCookies(h http.Header) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	kept := filterCookies(lines)
	if kept == "" {
		h.Del("Cookie")
		return
	}
	h.Set("Cookie", kept)
}

// filterCookies joins the Cookie header lines into one, without the pairs
// whose name is a hub cookie (also under the __Host-/__Secure- prefixes).
// Pairs are compared by name only and are otherwise copied unchanged, so a
// cookie the module set comes back to it exactly as the browser sent it.
func filterCookies(lines []string) string {
	var kept []string
	for _, line := range lines {
		for _, pair := range strings.Split(line, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, _, _ := strings.Cut(pair, "=")
			if isHubCookie(strings.TrimSpace(name)) {
				continue
			}
			kept = append(kept, pair)
		}
	}
	return strings.Join(kept, "; ")
}

// dropHubSetCookies removes from a module's response every Set-Cookie that
// would set one of the hub's own cookies. Why: modules share the hub's
// origin, so a module answering `Set-Cookie: parachute_hub_session=<its
// own session>; Path=/` would plant a session of its choosing in the
// operator's browser (session fixation), or overwrite the CSRF cookie.
func dropHubSetCookies(resp *http.Response) error {
	lines := resp.Header.Values("Set-Cookie")
	if len(lines) == 0 {
		return nil
	}
	kept := lines[:0:0]
	for _, l := range lines {
		name, _, _ := strings.Cut(l, "=")
		if !isHubCookie(strings.TrimSpace(name)) {
			kept = append(kept, l)
		}
	}
	if len(kept) == len(lines) {
		return nil
	}
	resp.Header.Del("Set-Cookie")
	for _, l := range kept {
		resp.Header.Add("Set-Cookie", l)
	}
	return nil
}

func isHubCookie(name string) bool {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "__Host-"), "__Secure-")
	for _, c := range api.HubCookies() {
		if name == c {
			return true
		}
	}
	return false
}

// Headers by which an exposure layer marks the requests it relays
// (reference layerOf, server.md §4e).
var exposureHeaders = []string{
	"Cf-Ray", "Cf-Connecting-Ip", // Cloudflare Tunnel: public
	"Tailscale-Funnel-Request", // Tailscale Funnel: public
	"Tailscale-User-Login",     // Tailscale Serve: tailnet
	// Our addition: any forwarding header means a proxy relayed the
	// request (tailscale serve for a tagged node sends no user login;
	// Caddy or nginx send only these).
	"X-Forwarded-For", "X-Forwarded-Host", "Forwarded",
}

// viaExposure reports whether r reached the hub through an exposure layer
// rather than from a client on this machine. It is what the
// publicExposure:"loopback" gate asks, so it errs towards "exposed":
//   - any header an exposure layer adds (exposureHeaders) counts, as in the
//     reference. A client can add such a header, but only to lock itself
//     out of a loopback-only module, never to get in;
//   - a peer that is not a loopback address counts too. The reference
//     classified a LAN client of its 0.0.0.0 listener, which sends none of
//     these headers, as "loopback" (§4e); with `serve --bind` that would
//     publish loopback-only modules to the whole LAN.
func viaExposure(r *http.Request) bool {
	for _, h := range exposureHeaders {
		if _, ok := r.Header[h]; ok {
			return true
		}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return true // not a TCP peer we understand: not provably local
	}
	return !ap.Addr().Unmap().IsLoopback()
}
