package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// A token minted with `auth mint-token` and revoked with `auth
// revoke-token` is listed in /.well-known/parachute-revocation.json, which
// a module reads without credentials, and the hub itself no longer
// accepts it.
func TestRevokedTokenIsPublishedAndRefused(t *testing.T) {
	h := newHome(t)
	h.start()
	mint := func(args ...string) (tok, jti string) {
		t.Helper()
		out, errOut, code := h.run(append([]string{"auth", "mint-token"}, args...)...)
		if code != 0 {
			t.Fatalf("auth mint-token %v = %d\n%s\n%s", args, code, out, errOut)
		}
		tok = strings.TrimSpace(out)
		p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		var c jwt.Claims
		if err := p.UnsafeClaimsWithoutVerification(&c); err != nil {
			t.Fatal(err)
		}
		return tok, c.ID
	}
	// aud operator: a token the hub's own API verifies; its scope gives
	// it no route, so before revocation it is 403, after it 401.
	tok, jti := mint("--scope", "vault:default:read", "--aud", "operator")
	_, keep := mint("--scope", "vault:default:write")
	call := func() int {
		req, _ := http.NewRequest(http.MethodGet, h.url("/api/modules"), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call(); got != http.StatusForbidden {
		t.Fatalf("before revocation: %d, want 403 (verified, lacks the scope)", got)
	}
	if out, errOut, code := h.run("auth", "revoke-token", jti); code != 0 || !strings.Contains(out, jti) {
		t.Fatalf("auth revoke-token = %d\n%s\n%s", code, out, errOut)
	}
	if got := call(); got != http.StatusUnauthorized {
		t.Errorf("after revocation: %d, want 401", got)
	}
	resp, err := http.Get(h.url("/.well-known/parachute-revocation.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		GeneratedAt string   `json:"generated_at"`
		JTIs        []string `json:"jtis"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=60" || doc.GeneratedAt == "" {
		t.Errorf("revocation document: %d %q %+v", resp.StatusCode, resp.Header.Get("Cache-Control"), doc)
	}
	if !slices.Contains(doc.JTIs, jti) || slices.Contains(doc.JTIs, keep) {
		t.Errorf("revocation document lists %v; want %s and not %s", doc.JTIs, jti, keep)
	}
	out, _, code := h.run("auth", "list-tokens", "--revoked")
	if code != 0 || !strings.Contains(out, jti) || strings.Contains(out, keep) {
		t.Errorf("auth list-tokens --revoked = %d\n%s", code, out)
	}
}
