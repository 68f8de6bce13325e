package oauth

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/auth"
)

// FuzzDecodeTokenRequest feeds the token endpoint's decoder untrusted
// bodies and Authorization headers: it must never panic, and what it
// accepts must be self-consistent (a Basic id always equals the client id
// the handlers authenticate).
func FuzzDecodeTokenRequest(f *testing.F) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("my%3Aclient:s%20ecret"))
	seeds := []struct{ ct, authz, body string }{
		{"application/x-www-form-urlencoded", "", "grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&code_verifier=v&client_id=c"},
		{"application/x-www-form-urlencoded; charset=utf-8", basic, "grant_type=refresh_token&refresh_token=r"},
		{"application/x-www-form-urlencoded", basic, "client_id=other&grant_type=refresh_token"},
		{"application/x-www-form-urlencoded", "", "code=a&code=b"},
		{"application/x-www-form-urlencoded", "Basic !!!", "grant_type=x"},
		{"application/x-www-form-urlencoded", "basic " + base64.StdEncoding.EncodeToString([]byte("nocolon")), ""},
		{"application/json", "", `{"grant_type":"authorization_code"}`},
		{"application/x-www-form-urlencoded", "", "%zz=1;a=b&token=t&token_type_hint=refresh_token"},
		{"", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.authz, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct, authz string, body []byte) {
		tr, err := decodeTokenRequest(ct, authz, body)
		if err != nil {
			if err.Error() == "" || strings.ToLower(err.Error()[:1]) != err.Error()[:1] {
				t.Fatalf("error text %q must be a lowercase description", err)
			}
			return
		}
		if tr.Basic && tr.BasicID != tr.ClientID && tr.ClientID != "" {
			// Allowed: the handlers refuse a mismatch. But an empty body
			// client_id must have been filled from Basic.
			return
		}
		if tr.Basic && tr.ClientID == "" && tr.BasicID != "" {
			t.Fatalf("Basic id %q not used as client_id", tr.BasicID)
		}
	})
}

// FuzzRedirectChecks: what the authorize step lets a browser be sent to.
// An accepted return_to is always this hub's /oauth/authorize; an accepted
// redirect_uri is an absolute http(s) URL; a resource maps only to one of
// the hub's origins or a well-formed vault of it.
func FuzzRedirectChecks(f *testing.F) {
	for _, s := range []string{"/oauth/authorize?client_id=x", "//evil/oauth/authorize", "https://evil/oauth/authorize",
		"/oauth/authorize\\@evil", "/%2F%2Fevil", "http://127.0.0.1:1939/vault/work/mcp", "javascript:alert(1)",
		"http://127.0.0.1:1939", "http://127.0.0.1:1939/vault/../admin", "http://u@127.0.0.1:9/cb#f"} {
		f.Add(s)
	}
	origins := []string{"http://127.0.0.1:1939"}
	f.Fuzz(func(t *testing.T, v string) {
		if safeAuthorizeReturn(v) {
			u, err := url.Parse(v)
			if err != nil || u.Host != "" || u.Path != "/oauth/authorize" || strings.HasPrefix(v, "//") {
				t.Fatalf("return_to %q accepted", v)
			}
		}
		if checkRedirectURIs([]string{v}) == nil {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
				t.Fatalf("redirect_uri %q accepted", v)
			}
		}
		if name, ok := resourceVault(v, origins); ok && name != "" {
			if _, ok := auth.VaultScopeName("vault:" + name + ":read"); !ok || !strings.HasPrefix(v, origins[0]+"/vault/"+name) {
				t.Fatalf("resource %q mapped to vault %q", v, name)
			}
		}
	})
}

// Client ids go on command lines: never a leading '-' (about 31 of 2000
// plain base64url draws would have one).
func TestNewSecretNeverLooksLikeAFlag(t *testing.T) {
	for range 2000 {
		if s := newSecret(16); s[0] == '-' {
			t.Fatalf("newSecret(16) = %q", s)
		}
	}
}
