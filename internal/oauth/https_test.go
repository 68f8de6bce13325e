package oauth

import (
	"net/http/httptest"
	"testing"

	"github.com/openparachute/parachute/internal/ratelimit"
	"github.com/openparachute/parachute/internal/sessions"
)

// X-Forwarded-Proto sets the consent CSRF cookie's Secure flag only when
// a trusted proxy sent it; from any other peer it is the client's claim.
func TestIsHTTPSTrustsOnlyTrustedProxies(t *testing.T) {
	trusted, err := ratelimit.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	k, err := ratelimit.NewKeyer(trusted, "")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Keyer: k})
	for _, tc := range []struct {
		peer string
		want bool
	}{
		{"10.0.0.5:5000", true},     // the trusted proxy says https
		{"203.0.113.7:5000", false}, // anyone else saying so is ignored
	} {
		r := httptest.NewRequest("GET", "/oauth/authorize", nil)
		r.RemoteAddr = tc.peer
		r.Header.Set("X-Forwarded-Proto", "https")
		if got := s.isHTTPS(r); got != tc.want {
			t.Errorf("peer %s: isHTTPS = %v, want %v", tc.peer, got, tc.want)
		}
	}
}

// The consent page decides Secure by the rule of every other hub form
// (sessions.DefaultSecure), since they share one CSRF cookie: a loopback
// peer (cloudflared, tailscale serve) is believed even with no
// PARACHUTE_TRUSTED_PROXIES, an outside peer is not.
func TestIsHTTPSIsTheSessionsRule(t *testing.T) {
	k, err := ratelimit.NewKeyer(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Keyer: k})
	for _, peer := range []string{"127.0.0.1:5000", "[::1]:5000", "203.0.113.7:5000"} {
		r := httptest.NewRequest("GET", "/oauth/authorize", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-Proto", "https")
		if got, want := s.isHTTPS(r), sessions.DefaultSecure(r, nil); got != want {
			t.Errorf("peer %s: isHTTPS = %v, sessions.DefaultSecure = %v", peer, got, want)
		}
	}
}

// NoRateLimit turns limiting off, not the proxy rules: the consent page
// still decides Secure (and must not dereference a missing Keyer).
func TestIsHTTPSWithoutRateLimits(t *testing.T) {
	s := New(Options{NoRateLimit: true})
	r := httptest.NewRequest("GET", "/oauth/authorize", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-Proto", "https")
	if got, want := s.isHTTPS(r), sessions.DefaultSecure(r, nil); got != want {
		t.Errorf("isHTTPS = %v, sessions.DefaultSecure = %v", got, want)
	}
}
