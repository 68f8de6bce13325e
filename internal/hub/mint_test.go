package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
)

// POST /api/auth/mint-token end to end inside the hub: what each bearer
// may mint, and that what it mints verifies for its module audience with
// the hub's canonical issuer.
func TestMintTokenRoute(t *testing.T) {
	h := newRouterHub(t)
	ctx := context.Background()
	const startOnly, workAdmin tokenKind = 100, 101
	var err error
	if h.tokens[startOnly], _, err = h.store.MintOperator(ctx, h.origins.Issuer(), "start"); err != nil {
		t.Fatal(err)
	}
	// A vault admin's own token (hub audience, so it may call the API).
	if h.tokens[workAdmin], err = h.store.Mint(ctx, auth.Claims{Issuer: h.origins.Issuer(), Subject: "alice",
		Audience: auth.OperatorAudience, ExpiresAt: 4102444800, Scope: "vault:work:admin"}); err != nil {
		t.Fatal(err)
	}

	runRouteCases(t, h, []routeCase{
		{name: "no minting authority", routerReq: postJSON("/api/auth/mint-token", startOnly, `{"scope":"vault:default:read"}`), status: 403, code: "insufficient_scope"},
		{name: "vault admin, other vault", routerReq: postJSON("/api/auth/mint-token", workAdmin, `{"scope":"vault:other:read"}`), status: 400, code: "invalid_scope"},
		{name: "vault admin, one bad scope rejects all", routerReq: postJSON("/api/auth/mint-token", workAdmin, `{"scope":"vault:work:read parachute:host:auth"}`), status: 400, code: "invalid_scope"},
		{name: "vault admin, foreign subject", routerReq: postJSON("/api/auth/mint-token", workAdmin, `{"scope":"vault:work:read","subject":"bob"}`), status: 403, code: "insufficient_scope"},
		{name: "host scopes are never mintable, even by the admin set", routerReq: postJSON("/api/auth/mint-token", operator, `{"scope":"parachute:host:start"}`), status: 400, code: "invalid_scope"},
	})

	mint := func(tok tokenKind, body string) (api.MintTokenResponse, *auth.Claims) {
		t.Helper()
		w := h.do(postJSON("/api/auth/mint-token", tok, body))
		if w.Code != http.StatusOK {
			t.Fatalf("mint %s = %d %s", body, w.Code, w.Body)
		}
		var resp api.MintTokenResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		c, err := h.store.Verify(ctx, resp.Token, auth.VerifyOptions{Issuers: []string{h.origins.Issuer()}, Audiences: []string{resp.Audience}})
		if err != nil {
			t.Fatalf("minted token does not verify: %v", err)
		}
		return resp, c
	}
	resp, c := mint(authOnly, `{"scope":"vault:default:read","subject":"backup-script"}`)
	want := api.MintTokenResponse{JTI: c.JTI, Token: resp.Token, ExpiresAt: c.Expiry().UTC().Format("2006-01-02T15:04:05.000Z"),
		Scope: "vault:default:read", Audience: "vault.default"}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	if c.Subject != "backup-script" || c.Issuer != h.origins.Issuer() || len(c.VaultScope) != 0 {
		t.Errorf("claims sub %q iss %q vault_scope %v", c.Subject, c.Issuer, c.VaultScope)
	}
	_, c = mint(workAdmin, `{"scope":"vault:work:read"}`)
	if c.Subject != "alice" || !cmp.Equal(c.VaultScope, []string{"work"}) || c.Audience != "vault.work" {
		t.Errorf("vault-admin mint: sub %q vault_scope %v aud %q; want alice [work] vault.work", c.Subject, c.VaultScope, c.Audience)
	}
}
