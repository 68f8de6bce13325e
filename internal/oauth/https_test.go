package oauth

import (
	"net/http/httptest"
	"testing"

	"github.com/openparachute/parachute/internal/ratelimit"
)

// X-Forwarded-Proto sets the consent CSRF cookie's Secure flag only when
// a trusted proxy sent it; from any other peer it is the client's claim.
func TestIsHTTPSTrustsOnlyTrustedProxies(t *testing.T) {
	trusted, err := ratelimit.ParseTrustedProxies("127.0.0.1")
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
		{"127.0.0.1:5000", true},    // the trusted proxy says https
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
