package sessions

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/api"
)

// The hub's cookie names, shared with the reference hub so a browser
// signed in under one keeps working under the other's cookie rules. They
// are api's, the one spelling the proxy also strips from module requests.
const (
	// SessionCookie carries the raw session value.
	SessionCookie = api.CookieSession
	// CSRFCookie carries the double-submit CSRF token.
	CSRFCookie = api.CookieCSRF
	// PendingCookie links the 2FA step of a sign-in to its password step.
	PendingCookie = api.CookiePendingLogin
)

// DefaultSecure reports whether r reached the hub over https: the
// connection is TLS, or the first X-Forwarded-Proto entry is "https" and
// the peer is a proxy the operator trusts. Loopback peers are always
// trusted (a tunnel such as cloudflared or tailscale serve connects from
// the box itself); trusted adds other proxies.
//
// Why the peer check: a header from anyone would let a client on plain
// http get Secure cookies its browser then never sends back, or, worse,
// make the decision depend on attacker input.
func DefaultSecure(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if first, _, _ := strings.Cut(proto, ","); !strings.EqualFold(strings.TrimSpace(first), "https") {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	peer = peer.Unmap()
	if peer.IsLoopback() {
		return true
	}
	for _, p := range trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// cookie builds one of the hub's cookies with the attributes of
// reference server.md §3b: HttpOnly, SameSite=Lax, Secure on https.
func (m *Manager) cookie(r *http.Request, name, value, path string, maxAge time.Duration) *http.Cookie {
	return newCookie(name, value, path, maxAge, m.secure(r))
}

// newCookie is cookie for a request whose https-ness the caller decided.
func newCookie(name, value, path string, maxAge time.Duration, secure bool) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: path,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure,
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else {
		c.MaxAge = -1 // Max-Age=0 on the wire: the browser drops it now
	}
	return c
}

// Start signs userID in: it ends any session r already carries (a fresh
// id every sign-in, so a planted cookie is worth nothing) and sets the
// cookie of a new one. It returns the new raw value.
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, userID string) (string, error) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := m.Delete(r.Context(), c.Value); err != nil {
			return "", err
		}
	}
	raw, _, err := m.Create(r.Context(), userID)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, m.cookie(r, SessionCookie, raw, "/", SessionTTL))
	return raw, nil
}

// End signs r's session out: deletes its row and clears the cookie.
func (m *Manager) End(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := m.Delete(r.Context(), c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, m.cookie(r, SessionCookie, "", "/", 0))
	return nil
}

// Raw returns r's session cookie value ("" if none).
func Raw(r *http.Request) string {
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}
