package hub

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/sessions"
)

// usersHub is a router hub with the sign-in pages on its own hub.db pool,
// alice as the seeded first admin, and two vaults in services.json.
type usersHub struct {
	*routerHub
	pages *webPages
	alice *accounts.User
}

func newUsersHub(t *testing.T) *usersHub {
	t.Helper()
	h := newRouterHub(t)
	ctx := context.Background()
	env := map[string]string{"PARACHUTE_INITIAL_ADMIN_USERNAME": "alice", "PARACHUTE_INITIAL_ADMIN_PASSWORD": "correct horse battery"}
	var logs bytes.Buffer
	pages, err := buildWeb(ctx, h.store.DB(), h.store, h.origins, func(k string) string { return env[k] }, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h.s.SetWeb(pages)
	alice, err := pages.accounts.ByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	h.writeServices(
		map[string]any{"name": "parachute-vault", "port": freePort(t), "paths": []string{"/vault/default", "/vault/work"},
			"health": "/vault/default/health", "version": "1.0.0"},
	)
	return &usersHub{routerHub: h, pages: pages, alice: alice}
}

func patchJSON(path string, tok tokenKind, body string) routerReq {
	return routerReq{method: http.MethodPatch, path: path, tok: tok, body: body}
}

// TestUsersRouteRules: every /api/users route's method rule (before
// auth), its bearer rule (parachute:host:admin only: no token, garbage, an
// auth-scope operator token and an OAuth hub:admin token are refused), and
// the 404s.
func TestUsersRouteRules(t *testing.T) {
	h := newUsersHub(t)
	id := "/api/users/" + h.alice.ID
	runRouteCases(t, h.routerHub, []routeCase{
		{name: "list", routerReq: get("/api/users", operator), status: 200},
		{name: "list HEAD", routerReq: head("/api/users", operator), status: 200},
		{name: "list without a token", routerReq: get("/api/users", noToken), status: 401, code: "unauthenticated"},
		{name: "list garbage token", routerReq: get("/api/users", garbage), status: 401, code: "unauthenticated"},
		{name: "list auth-only", routerReq: get("/api/users", authOnly), status: 403, code: "insufficient_scope"},
		{name: "list OAuth hub:admin", routerReq: get("/api/users", hubAud), status: 403, code: "insufficient_scope"},
		{name: "list module audience", routerReq: get("/api/users", wrongAud), status: 401, code: "unauthenticated"},
		{name: "users PUT", routerReq: routerReq{method: http.MethodPut, path: "/api/users", tok: noToken}, status: 405, code: "method_not_allowed", allow: "GET, POST"},
		{name: "create without a token", routerReq: postJSON("/api/users", noToken, `{"username":"bob","password":"a long passphrase"}`), status: 401, code: "unauthenticated"},
		{name: "create auth-only", routerReq: postJSON("/api/users", authOnly, `{"username":"bob","password":"a long passphrase"}`), status: 403, code: "insufficient_scope"},
		{name: "vaults", routerReq: get("/api/users/vaults", operator), status: 200},
		{name: "vaults POST", routerReq: post("/api/users/vaults", operator), status: 405, code: "method_not_allowed", allow: "GET"},
		{name: "vaults without a token", routerReq: get("/api/users/vaults", noToken), status: 401, code: "unauthenticated"},
		{name: "delete GET", routerReq: get(id, operator), status: 405, code: "method_not_allowed", allow: "DELETE"},
		{name: "delete without a token", routerReq: del(id, noToken), status: 401, code: "unauthenticated"},
		{name: "delete garbage token", routerReq: del(id, garbage), status: 401, code: "unauthenticated"},
		{name: "delete auth-only", routerReq: del(id, authOnly), status: 403, code: "insufficient_scope"},
		{name: "delete unknown user", routerReq: del("/api/users/nope", operator), status: 404, code: "not_found"},
		{name: "reset GET", routerReq: get(id+"/reset-password", operator), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "reset without a token", routerReq: postJSON(id+"/reset-password", noToken, `{"new_password":"another long one"}`), status: 401, code: "unauthenticated"},
		{name: "reset auth-only", routerReq: postJSON(id+"/reset-password", authOnly, `{"new_password":"another long one"}`), status: 403, code: "insufficient_scope"},
		{name: "reset unknown user", routerReq: postJSON("/api/users/nope/reset-password", operator, `{"new_password":"another long one"}`), status: 404, code: "not_found"},
		{name: "set vaults POST", routerReq: post(id+"/vaults", operator), status: 405, code: "method_not_allowed", allow: "PATCH"},
		{name: "set vaults without a token", routerReq: patchJSON(id+"/vaults", noToken, `{"assigned_vaults":[]}`), status: 401, code: "unauthenticated"},
		{name: "set vaults auth-only", routerReq: patchJSON(id+"/vaults", authOnly, `{"assigned_vaults":[]}`), status: 403, code: "insufficient_scope"},
		{name: "set vaults unknown user", routerReq: patchJSON("/api/users/nope/vaults", operator, `{"assigned_vaults":[]}`), status: 404, code: "not_found"},
		{name: "unknown action", routerReq: post(id+"/promote", operator), status: 404, code: "not_found"},
		{name: "too deep", routerReq: get(id+"/vaults/x", operator), status: 404, code: "not_found"},
		{name: "trailing slash", routerReq: get(id+"/", operator), status: 404, code: "not_found"},
		// The first admin: the reference's rails, kept.
		{name: "delete first admin", routerReq: del(id, operator), status: 403, code: "first_admin_undeletable"},
		{name: "reset first admin", routerReq: postJSON(id+"/reset-password", operator, `{"new_password":"another long one"}`), status: 403, code: "cannot_reset_first_admin"},
		{name: "set first admin vaults", routerReq: patchJSON(id+"/vaults", operator, `{"assigned_vaults":["work"]}`), status: 403, code: "cannot_edit_first_admin_vaults"},
	})
}

// TestUsersBodies: POST /api/users and the bodies of reset-password and
// vaults, each bad body refused with the reference's status and code
// before anything is written or hashed.
func TestUsersBodies(t *testing.T) {
	h := newUsersHub(t)
	var created api.UserResponse
	decode(t, h.routerHub, postJSON("/api/users", operator, `{"username":"bob","password":"a long passphrase","assigned_vaults":["work","work"]}`), 201, &created)
	bob := "/api/users/" + created.User.ID
	long := strings.Repeat("x", accounts.MaxPasswordBytes+1)
	runRouteCases(t, h.routerHub, []routeCase{
		{name: "no body", routerReq: post("/api/users", operator), status: 400, code: "invalid_request"},
		{name: "not an object", routerReq: postJSON("/api/users", operator, `[]`), status: 400, code: "invalid_request"},
		{name: "not json", routerReq: withHeader(postJSON("/api/users", operator, `username=bob`), "Content-Type", "application/x-www-form-urlencoded"), status: 415, code: "invalid_request"},
		{name: "unknown member", routerReq: postJSON("/api/users", operator, `{"username":"carol","password":"a long passphrase","admin":true}`), status: 400, code: "invalid_request"},
		{name: "no password", routerReq: postJSON("/api/users", operator, `{"username":"carol"}`), status: 400, code: "invalid_request"},
		{name: "password too long", routerReq: postJSON("/api/users", operator, `{"username":"carol","password":"`+long+`"}`), status: 413, code: "password_too_long"},
		{name: "body too large", routerReq: postJSON("/api/users", operator, `{"username":"carol","password":"`+strings.Repeat("x", api.MaxJSONBody)+`"}`), status: 413, code: "body_too_large"},
		{name: "uppercase username", routerReq: postJSON("/api/users", operator, `{"username":"Carol","password":"a long passphrase"}`), status: 400, code: "invalid_username"},
		{name: "reserved username", routerReq: postJSON("/api/users", operator, `{"username":"root","password":"a long passphrase"}`), status: 400, code: "invalid_username"},
		{name: "path username", routerReq: postJSON("/api/users", operator, `{"username":"../x","password":"a long passphrase"}`), status: 400, code: "invalid_username"},
		{name: "short password", routerReq: postJSON("/api/users", operator, `{"username":"carol","password":"short"}`), status: 400, code: "invalid_password"},
		{name: "vaults not an array", routerReq: postJSON("/api/users", operator, `{"username":"carol","password":"a long passphrase","assigned_vaults":"work"}`), status: 400, code: "invalid_request"},
		{name: "empty vault name", routerReq: postJSON("/api/users", operator, `{"username":"carol","password":"a long passphrase","assignedVaults":[""]}`), status: 400, code: "invalid_request"},
		{name: "unknown vault", routerReq: postJSON("/api/users", operator, `{"username":"carol","password":"a long passphrase","assigned_vaults":["nope"]}`), status: 400, code: "assigned_vault_not_found"},
		{name: "taken", routerReq: postJSON("/api/users", operator, `{"username":"bob","password":"a long passphrase"}`), status: 409, code: "username_taken"},
		{name: "reset no body", routerReq: post(bob+"/reset-password", operator), status: 400, code: "invalid_request"},
		{name: "reset short", routerReq: postJSON(bob+"/reset-password", operator, `{"new_password":"short"}`), status: 400, code: "invalid_password"},
		{name: "reset too long", routerReq: postJSON(bob+"/reset-password", operator, `{"new_password":"`+long+`"}`), status: 413, code: "password_too_long"},
		{name: "set vaults missing", routerReq: patchJSON(bob+"/vaults", operator, `{}`), status: 400, code: "invalid_request"},
		{name: "set vaults unknown", routerReq: patchJSON(bob+"/vaults", operator, `{"assigned_vaults":["work","nope"]}`), status: 400, code: "assigned_vault_not_found"},
	})
	n, err := h.pages.accounts.Count(context.Background())
	if err != nil || n != 2 {
		t.Errorf("users = %d (%v), want alice and bob only", n, err)
	}
}

// TestUsersLifecycle: create → list → vaults → reset (bob's session from
// before the reset is signed out, his token revoked) → delete, with the
// reference's answer bodies.
func TestUsersLifecycle(t *testing.T) {
	h := newUsersHub(t)
	ctx := context.Background()

	var vaults api.VaultNamesResponse
	decode(t, h.routerHub, get("/api/users/vaults", operator), 200, &vaults)
	if diff := cmp.Diff([]string{"default", "work"}, vaults.Vaults); diff != "" {
		t.Errorf("vaults (-want +got):\n%s", diff)
	}

	var created api.UserResponse
	decode(t, h.routerHub, postJSON("/api/users", operator, `{"username":"bob","password":"a long passphrase","assignedVaults":["work"]}`), 201, &created)
	bob := created.User
	if bob.Username != "bob" || bob.PasswordChanged || !cmp.Equal(bob.AssignedVaults, []string{"work"}) || bob.ID == "" || bob.CreatedAt == "" {
		t.Fatalf("created %+v", bob)
	}

	var list api.UsersResponse
	decode(t, h.routerHub, get("/api/users", operator), 200, &list)
	if len(list.Users) != 2 || list.Users[0].Username != "alice" || !cmp.Equal(list.Users[1], bob) ||
		list.Users[0].AssignedVaults == nil || !list.Users[0].PasswordChanged {
		t.Fatalf("list = %+v", list.Users)
	}
	if w := h.do(get("/api/users", operator)); strings.Contains(w.Body.String(), "argon2") || strings.Contains(w.Body.String(), "password_hash") {
		t.Fatalf("the list leaks password hashes: %s", w.Body)
	}

	var changed api.UserChangedResponse
	decode(t, h.routerHub, patchJSON("/api/users/"+bob.ID+"/vaults", operator, `{"assigned_vaults":["default","work"]}`), 200, &changed)
	if !changed.OK || changed.User == nil || !cmp.Equal(changed.User.AssignedVaults, []string{"default", "work"}) {
		t.Fatalf("vaults = %+v", changed)
	}
	verbs, ok, err := h.pages.accounts.VaultVerbsFor(ctx, bob.ID, "default")
	if err != nil || !ok || !cmp.Equal(verbs, []string{"read", "write", "admin"}) {
		t.Fatalf("bob on default: %v %v %v", verbs, ok, err)
	}

	// Bob signs in and holds a token; then the admin resets his password.
	raw, _, err := h.pages.sessions.Create(ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := h.store.MintToken(ctx, auth.MintRequest{Issuer: h.origins.Issuer(), Subject: bob.ID,
		Scopes: []string{"vault:work:read"}, UserID: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	account := func() int {
		r := httptest.NewRequest(http.MethodGet, "/account/", nil)
		r.Host = routerHost
		r.AddCookie(&http.Cookie{Name: sessions.SessionCookie, Value: raw})
		w := httptest.NewRecorder()
		h.s.ServeHTTP(w, r)
		return w.Code
	}
	if got := account(); got != http.StatusOK {
		t.Fatalf("bob's /account/ before the reset = %d", got)
	}
	changed = api.UserChangedResponse{}
	decode(t, h.routerHub, postJSON("/api/users/"+bob.ID+"/reset-password", operator, `{"new_password":"a temporary passphrase"}`), 200, &changed)
	if !changed.OK || changed.User == nil || changed.User.PasswordChanged || changed.RevocationLagSeconds != 60 {
		t.Fatalf("reset = %+v", changed)
	}
	if got := account(); got != http.StatusSeeOther {
		t.Errorf("bob's session from before the reset: /account/ = %d, want 303 to /login", got)
	}
	if _, err := h.store.Verify(ctx, tok, auth.VerifyOptions{Issuers: h.origins.Accepted(), Audiences: []string{"vault.work"}}); err == nil {
		t.Errorf("bob's token still verifies after the reset")
	}
	u, err := h.pages.accounts.ByID(ctx, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := accounts.VerifyPassword(u.PasswordHash, "a temporary passphrase"); !ok {
		t.Errorf("the new password does not verify")
	}

	// Delete: 200 with the lag, then 404; alice is untouched.
	changed = api.UserChangedResponse{}
	decode(t, h.routerHub, del("/api/users/"+bob.ID, operator), 200, &changed)
	if !changed.OK || changed.User != nil || changed.RevocationLagSeconds != 60 {
		t.Fatalf("delete = %+v", changed)
	}
	decode(t, h.routerHub, del("/api/users/"+bob.ID, operator), 404, nil)
	list = api.UsersResponse{}
	decode(t, h.routerHub, get("/api/users", operator), 200, &list)
	if len(list.Users) != 1 || list.Users[0].ID != h.alice.ID {
		t.Fatalf("after delete: %+v", list.Users)
	}
}

// TestUsersBeforeHubDB: until the pages are installed the routes answer
// 503, not a nil dereference.
func TestUsersBeforeHubDB(t *testing.T) {
	h := newRouterHub(t)
	runRouteCases(t, h, []routeCase{
		{name: "list", routerReq: get("/api/users", operator), status: 503, code: "starting"},
	})
}
