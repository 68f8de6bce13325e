package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/oauth"
)

// The token registry, revocation document, client and grant routes:
// method, auth, scope and body rules in the router table's form, then
// what they do to hub.db (real sqlite) and to verification.

func del(path string, tok tokenKind) routerReq {
	return routerReq{method: http.MethodDelete, path: path, tok: tok}
}

func TestRegistryRouteRules(t *testing.T) {
	h := newRouterHub(t)
	runRouteCases(t, h, []routeCase{
		// POST /api/auth/revoke-token
		{name: "revoke-token GET", routerReq: get("/api/auth/revoke-token", noToken), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "revoke-token without a token", routerReq: postJSON("/api/auth/revoke-token", noToken, `{"jti":"x"}`), status: 401, code: "unauthenticated"},
		{name: "revoke-token module audience", routerReq: postJSON("/api/auth/revoke-token", wrongAud, `{"jti":"x"}`), status: 401, code: "unauthenticated"},
		{name: "revoke-token no jti", routerReq: post("/api/auth/revoke-token", operator), status: 400, code: "invalid_request"},
		{name: "revoke-token oversize jti", routerReq: postJSON("/api/auth/revoke-token", operator, `{"jti":"`+strings.Repeat("a", maxJTILen+1)+`"}`), status: 400, code: "invalid_request"},
		{name: "revoke-token unknown member", routerReq: postJSON("/api/auth/revoke-token", operator, `{"jti":"x","all":true}`), status: 400, code: "invalid_request"},
		{name: "revoke-token unknown jti", routerReq: postJSON("/api/auth/revoke-token", operator, `{"jti":"nope"}`), status: 404, code: "not_found"},
		{name: "revoke-token unknown jti auth-only", routerReq: postJSON("/api/auth/revoke-token", authOnly, `{"jti":"nope"}`), status: 404, code: "not_found"},
		// GET /api/auth/tokens: parachute:host:auth.
		{name: "tokens", routerReq: get("/api/auth/tokens", operator), status: 200},
		{name: "tokens auth-only", routerReq: get("/api/auth/tokens", authOnly), status: 200},
		{name: "tokens HEAD", routerReq: head("/api/auth/tokens", operator), status: 200},
		{name: "tokens without a token", routerReq: get("/api/auth/tokens", noToken), status: 401, code: "unauthenticated"},
		{name: "tokens POST", routerReq: post("/api/auth/tokens", operator), status: 405, code: "method_not_allowed", allow: "GET"},
		{name: "tokens bad revoked filter", routerReq: get("/api/auth/tokens?revoked=maybe", operator), status: 400, code: "invalid_request"},
		{name: "tokens revoked=all", routerReq: get("/api/auth/tokens?revoked=all", operator), status: 200},
		{name: "tokens bad created_via", routerReq: get("/api/auth/tokens?created_via=magic", operator), status: 400, code: "invalid_request"},
		{name: "tokens foreign cursor", routerReq: get("/api/auth/tokens?cursor=!!", operator), status: 400, code: "invalid_request"},
		{name: "revoke-token break_glass not a boolean", routerReq: postJSON("/api/auth/revoke-token", operator, `{"jti":"x","break_glass":"false"}`), status: 400, code: "invalid_request"},
		// GET /api/oauth/clients, POST /api/oauth/clients/<id>/approve: host:admin.
		{name: "clients", routerReq: get("/api/oauth/clients?status=pending", operator), status: 200},
		{name: "clients auth-only", routerReq: get("/api/oauth/clients", authOnly), status: 403, code: "insufficient_scope"},
		{name: "clients without a token", routerReq: get("/api/oauth/clients", noToken), status: 401, code: "unauthenticated"},
		{name: "clients bad status", routerReq: get("/api/oauth/clients?status=gone", operator), status: 400, code: "invalid_request"},
		{name: "clients POST", routerReq: post("/api/oauth/clients", operator), status: 405, code: "method_not_allowed", allow: "GET"},
		{name: "approve unknown client", routerReq: post("/api/oauth/clients/nope/approve", operator), status: 404, code: "not_found"},
		{name: "approve GET", routerReq: get("/api/oauth/clients/nope/approve", operator), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "approve auth-only", routerReq: post("/api/oauth/clients/nope/approve", authOnly), status: 403, code: "insufficient_scope"},
		{name: "approve without a token", routerReq: post("/api/oauth/clients/nope/approve", noToken), status: 401, code: "unauthenticated"},
		// GET /api/grants, DELETE /api/grants/<client_id>: host:admin.
		{name: "grants", routerReq: get("/api/grants", operator), status: 200},
		{name: "grants auth-only", routerReq: get("/api/grants", authOnly), status: 403, code: "insufficient_scope"},
		{name: "grants without a token", routerReq: get("/api/grants", noToken), status: 401, code: "unauthenticated"},
		{name: "grants POST", routerReq: post("/api/grants", operator), status: 405, code: "method_not_allowed", allow: "GET"},
		{name: "grants vault filter", routerReq: get("/api/grants?vault=work", operator), status: 200},
		{name: "grants bad vault filter", routerReq: get("/api/grants?vault=a:b", operator), status: 400, code: "invalid_request"},
		{name: "grants empty vault filter", routerReq: get("/api/grants?vault=", operator), status: 400, code: "invalid_request"},
		{name: "revoke unknown grant", routerReq: del("/api/grants/nope", operator), status: 404, code: "not_found"},
		{name: "revoke grant POST", routerReq: post("/api/grants/nope", operator), status: 405, code: "method_not_allowed", allow: "DELETE"},
		{name: "revoke grant auth-only", routerReq: del("/api/grants/nope", authOnly), status: 403, code: "insufficient_scope"},
		{name: "revoke grant without a token", routerReq: del("/api/grants/nope", noToken), status: 401, code: "unauthenticated"},
		// The revocation document is public.
		{name: "revocation document", routerReq: get("/.well-known/parachute-revocation.json", noToken), status: 200},
		{name: "revocation document POST", routerReq: post("/.well-known/parachute-revocation.json", noToken), status: 405, code: "method_not_allowed", allow: "GET, OPTIONS"},
		{name: "revocation document preflight", routerReq: routerReq{method: http.MethodOptions, path: "/.well-known/parachute-revocation.json"}, status: 204, ctype: "-"},
	})
}

// decode reads a JSON answer of status want into v.
func decode(t *testing.T, h *routerHub, q routerReq, want int, v any) {
	t.Helper()
	w := h.do(q)
	if w.Code != want {
		t.Fatalf("%s %s = %d %s, want %d", q.method, q.path, w.Code, w.Body, want)
	}
	if v != nil {
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			t.Fatal(err)
		}
	}
}

// A bearer revokes what it could mint; a revoked jti is listed in the
// revocation document and no longer verifies.
func TestRevokeTokenRoute(t *testing.T) {
	h := newRouterHub(t)
	ctx := context.Background()
	const workAdmin tokenKind = 101
	var err error
	if h.tokens[workAdmin], err = h.store.Mint(ctx, auth.Claims{Issuer: h.origins.Issuer(), Subject: "alice",
		Audience: auth.OperatorAudience, ExpiresAt: 4102444800, Scope: "vault:work:admin"}); err != nil {
		t.Fatal(err)
	}
	mint := func(scope string) (string, string) {
		tok, c, err := h.store.MintToken(ctx, auth.MintRequest{Issuer: h.origins.Issuer(), Subject: "s", Scopes: []string{scope}})
		if err != nil {
			t.Fatal(err)
		}
		return tok, c.JTI
	}
	_, otherJTI := mint("vault:other:read")
	if _, err := h.store.DB().ExecContext(ctx, `INSERT INTO tokens (jti, client_id, scopes, expires_at, created_at) VALUES ('scopeless', 'x', '', '2100-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`); err != nil {
		t.Fatal(err)
	}
	live, err := h.store.Verify(ctx, h.token, auth.VerifyOptions{Issuers: h.origins.Accepted(), Audiences: auth.HubAudiences()})
	if err != nil {
		t.Fatal(err)
	}
	workTok, workJTI := mint("vault:work:read")

	runRouteCases(t, h, []routeCase{
		{name: "vault admin, other vault's token", routerReq: postJSON("/api/auth/revoke-token", workAdmin, `{"jti":"`+otherJTI+`"}`), status: 403, code: "insufficient_scope"},
		{name: "vault admin, unknown jti", routerReq: postJSON("/api/auth/revoke-token", workAdmin, `{"jti":"nope"}`), status: 404, code: "not_found"},
		{name: "vault admin, scopeless token", routerReq: postJSON("/api/auth/revoke-token", workAdmin, `{"jti":"scopeless"}`), status: 403, code: "insufficient_scope"},
		{name: "vault admin, the operator token", routerReq: postJSON("/api/auth/revoke-token", workAdmin, `{"jti":"`+live.JTI+`"}`), status: 403, code: "insufficient_scope"},
		{name: "the live operator token", routerReq: postJSON("/api/auth/revoke-token", authOnly, `{"jti":"`+live.JTI+`"}`), status: 409, code: "live_operator_token"},
	})
	if revoked, _ := h.store.RevokedJTIs(ctx); len(revoked) != 0 {
		t.Fatalf("a refused revoke revoked %v", revoked)
	}

	var resp api.RevokeTokenResponse
	decode(t, h, postJSON("/api/auth/revoke-token", workAdmin, `{"jti":"`+workJTI+`"}`), 200, &resp)
	if resp.JTI != workJTI || resp.RevokedAt == "" {
		t.Errorf("revoke answer %+v", resp)
	}
	var again api.RevokeTokenResponse
	decode(t, h, postJSON("/api/auth/revoke-token", operator, `{"jti":"`+workJTI+`"}`), 200, &again)
	if again.RevokedAt != resp.RevokedAt {
		t.Errorf("revoking twice moved revoked_at from %s to %s", resp.RevokedAt, again.RevokedAt)
	}
	_, err = h.store.Verify(ctx, workTok, auth.VerifyOptions{Issuers: []string{h.origins.Issuer()}, Audiences: []string{"vault.work"}})
	if !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("verifying the revoked token: %v, want ErrRevoked", err)
	}

	w := h.do(get("/.well-known/parachute-revocation.json", noToken))
	var doc api.RevocationDocument
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(doc.JTIs, workJTI) || slices.Contains(doc.JTIs, otherJTI) || doc.GeneratedAt == "" {
		t.Errorf("revocation document %+v: want %s listed and %s not", doc, workJTI, otherJTI)
	}
	if cc, ao := w.Header().Get("Cache-Control"), w.Header().Get("Access-Control-Allow-Origin"); cc != "public, max-age=60" || ao != "*" {
		t.Errorf("Cache-Control %q, Access-Control-Allow-Origin %q", cc, ao)
	}

	var list api.TokensResponse
	decode(t, h, get("/api/auth/tokens?revoked=true&created_via=cli_mint", authOnly), 200, &list)
	if len(list.Tokens) != 1 || list.Tokens[0].JTI != workJTI || list.Tokens[0].RevokedAt == nil || list.NextCursor != nil ||
		!slices.Equal(list.Tokens[0].Scopes, []string{"vault:work:read"}) {
		t.Errorf("revoked cli_mint tokens: %+v", list)
	}

	// break_glass revokes the live operator token; then it is refused.
	decode(t, h, postJSON("/api/auth/revoke-token", authOnly, `{"jti":"scopeless"}`), 200, nil)
	decode(t, h, postJSON("/api/auth/revoke-token", authOnly, `{"jti":"`+live.JTI+`","break_glass":true}`), 200, nil)
	if w := h.do(get("/api/hub", operator)); w.Code != http.StatusUnauthorized {
		t.Errorf("the revoked operator token: %d, want 401", w.Code)
	}
}

// The registry pages by 50 with a cursor and never repeats a row.
func TestTokensPaging(t *testing.T) {
	h := newRouterHub(t)
	ctx := context.Background()
	for range auth.TokenPageSize + 3 {
		if _, _, err := h.store.MintToken(ctx, auth.MintRequest{Issuer: h.origins.Issuer(), Subject: "pager", Scopes: []string{"vault:default:read"}}); err != nil {
			t.Fatal(err)
		}
	}
	var p1, p2 api.TokensResponse
	decode(t, h, get("/api/auth/tokens?subject=pager", operator), 200, &p1)
	if len(p1.Tokens) != auth.TokenPageSize || p1.NextCursor == nil {
		t.Fatalf("page 1: %d rows, next %v", len(p1.Tokens), p1.NextCursor)
	}
	decode(t, h, get("/api/auth/tokens?subject=pager&cursor="+*p1.NextCursor, operator), 200, &p2)
	if len(p2.Tokens) != 3 || p2.NextCursor != nil {
		t.Fatalf("page 2: %+v", p2)
	}
	seen := map[string]bool{}
	for _, r := range append(p1.Tokens, p2.Tokens...) {
		if seen[r.JTI] {
			t.Errorf("jti %s listed twice", r.JTI)
		}
		seen[r.JTI] = true
	}
}

// Approving a pending client, listing grants, and revoking a grant, which
// also revokes that client's tokens for the user and nobody else's.
func TestClientAndGrantRoutes(t *testing.T) {
	h := newRouterHub(t)
	ctx := context.Background()
	db := h.store.DB()
	now := time.Now().UTC()
	ts := now.Format("2006-01-02T15:04:05.000Z")
	exp := now.Add(time.Hour).Format("2006-01-02T15:04:05.000Z")
	for _, u := range []string{"alice", "bob"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES (?, ?, 'x', ?, ?)`, "id-"+u, u, ts, ts); err != nil {
			t.Fatal(err)
		}
	}
	st := oauth.SQLStore(db)
	if err := st.CreateClient(ctx, oauth.Client{ID: "c1", Name: "Claude", RedirectURIs: []string{"https://claude.ai/cb"}, Scopes: []string{"vault:default:read"},
		RegisteredAt: now, Status: oauth.StatusPending}); err != nil {
		t.Fatal(err)
	}
	var clients api.ClientsResponse
	decode(t, h, get("/api/oauth/clients?status=pending", operator), 200, &clients)
	if len(clients.Clients) != 1 || clients.Clients[0].ClientID != "c1" || *clients.Clients[0].ClientName != "Claude" {
		t.Fatalf("pending clients: %+v", clients)
	}
	decode(t, h, post("/api/oauth/clients/c1/approve", operator), 200, nil)
	if c, err := st.Client(ctx, "c1"); err != nil || c.Status != oauth.StatusApproved {
		t.Fatalf("after approve: %+v %v", c, err)
	}
	decode(t, h, get("/api/oauth/clients?status=pending", operator), 200, &clients)
	if len(clients.Clients) != 0 {
		t.Errorf("still pending: %+v", clients)
	}

	for _, u := range []string{"alice", "bob"} {
		if err := st.SaveGrant(ctx, "id-"+u, "c1", []string{"vault:default:read"}, now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO tokens (jti, user_id, client_id, scopes, expires_at, created_at) VALUES (?, ?, 'c1', 'vault:default:read', ?, ?)`,
			"jti-"+u, "id-"+u, exp, ts); err != nil {
			t.Fatal(err)
		}
	}
	var grants api.GrantsResponse
	decode(t, h, get("/api/grants?vault=work", operator), 200, &grants)
	if len(grants.Grants) != 0 {
		t.Errorf("grants touching vault work: %+v, want none", grants)
	}
	decode(t, h, get("/api/grants?username=alice&vault=default", operator), 200, &grants)
	if len(grants.Grants) != 1 || grants.Grants[0].Username != "alice" || grants.Grants[0].ClientID != "c1" || *grants.Grants[0].ClientName != "Claude" {
		t.Fatalf("alice's grants: %+v", grants)
	}
	w := h.do(del("/api/grants/c1?username=alice", operator))
	if w.Code != http.StatusNoContent {
		t.Fatalf("revoke grant = %d %s", w.Code, w.Body)
	}
	decode(t, h, get("/api/grants", operator), 200, &grants)
	if len(grants.Grants) != 1 || grants.Grants[0].Username != "bob" {
		t.Errorf("grants after revoking alice's: %+v", grants)
	}
	var doc api.RevocationDocument
	decode(t, h, get("/.well-known/parachute-revocation.json", noToken), 200, &doc)
	if !slices.Equal(doc.JTIs, []string{"jti-alice"}) {
		t.Errorf("revoked after the grant went: %v, want only jti-alice", doc.JTIs)
	}
	w = h.do(del("/api/grants/c1?username=alice", operator))
	if w.Code != http.StatusNotFound {
		t.Errorf("revoking a revoked grant = %d, want 404", w.Code)
	}
}
