package hub

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/sessions"
	"github.com/openparachute/parachute/internal/vaults"
)

// vaultHub is a router hub with two vault instances (default, work) on
// the parachute-vault row and the sign-in pages: alice is the admin, bob
// a friend; sessions holds a session cookie for each.
func vaultHub(t *testing.T) (*routerHub, map[string]*http.Cookie) {
	t.Helper()
	h := newRouterHub(t)
	if err := manifest.Update(h.paths.ServicesJSON(), func(f *manifest.File) error {
		f.Services = append(f.Services, manifest.Service{Name: "parachute-vault", Port: 59940,
			Paths: []string{"/vault/default", "/vault/work"}, Health: "/vault/default/health", Version: "0.3.6"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := hubdb.Open(ctx, h.paths.HubDB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	env := map[string]string{"PARACHUTE_INITIAL_ADMIN_USERNAME": "alice", "PARACHUTE_INITIAL_ADMIN_PASSWORD": "correct horse battery"}
	pages, err := buildWeb(ctx, db, h.store, h.origins, func(k string) string { return env[k] }, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h.s.SetWeb(pages)
	if _, err := pages.accounts.Create(ctx, "bob", "another long password", accounts.CreateOptions{AllowMulti: true}); err != nil {
		t.Fatal(err)
	}
	cookies := map[string]*http.Cookie{}
	for _, name := range []string{"alice", "bob"} {
		u, err := pages.accounts.ByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		raw, _, err := pages.sessions.Create(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		cookies[name] = &http.Cookie{Name: sessions.SessionCookie, Value: raw}
	}
	return h, cookies
}

// TestVaultAdminToken: GET /admin/vault-admin-token/<name> for the
// admin's session or an admin bearer mints a 5-minute, unrecorded token
// with vault:<name>:admin for audience vault.<name>, pinned to the vault;
// everyone else, unknown vaults and bad names are refused.
func TestVaultAdminToken(t *testing.T) {
	h, cookies := vaultHub(t)
	get := func(path string, tok tokenKind, c *http.Cookie, method string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, nil)
		r.Host = routerHost
		if tok != noToken {
			r.Header.Set("Authorization", "Bearer "+h.tokens[tok])
		}
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.s.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name   string
		path   string
		tok    tokenKind
		cookie *http.Cookie
		method string
		status int
		code   string
	}{
		{"nobody", "/admin/vault-admin-token/work", noToken, nil, "GET", 401, "unauthenticated"},
		{"a friend's session", "/admin/vault-admin-token/work", noToken, cookies["bob"], "GET", 403, "insufficient_scope"},
		{"a friend's session beside an admin bearer", "/admin/vault-admin-token/work", operator, cookies["bob"], "GET", 403, "insufficient_scope"},
		{"bearer without host:admin", "/admin/vault-admin-token/work", authOnly, nil, "GET", 403, "insufficient_scope"},
		{"garbage bearer", "/admin/vault-admin-token/work", garbage, nil, "GET", 401, "unauthenticated"},
		{"unknown vault", "/admin/vault-admin-token/nope", noToken, cookies["alice"], "GET", 404, "not_found"},
		{"bad name", "/admin/vault-admin-token/a.b", noToken, cookies["alice"], "GET", 400, "invalid_request"},
		{"POST", "/admin/vault-admin-token/work", noToken, cookies["alice"], "POST", 405, "method_not_allowed"},
		{"name starting with a dash", "/admin/vault-admin-token/-x", noToken, cookies["alice"], "GET", 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get(tc.path, tc.tok, tc.cookie, tc.method)
			var body struct{ Error string }
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != tc.status || body.Error != tc.code {
				t.Errorf("= %d %s, want %d %s", w.Code, w.Body, tc.status, tc.code)
			}
		})
	}

	t.Run("admin session, cross-site", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/admin/vault-admin-token/work", nil)
		r.Host = routerHost
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.AddCookie(cookies["alice"])
		w := httptest.NewRecorder()
		h.s.ServeHTTP(w, r)
		if w.Code != 403 || !strings.Contains(w.Body.String(), "cross_origin") {
			t.Errorf("= %d %s, want 403 cross_origin", w.Code, w.Body)
		}
	})

	alice, _ := h.s.web.Load().accounts.ByName(context.Background(), "alice")
	for _, tc := range []struct {
		name    string
		tok     tokenKind
		cookie  *http.Cookie
		subject string
	}{
		{"admin session", noToken, cookies["alice"], alice.ID},
		{"admin bearer", operator, nil, auth.OperatorSubject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := get("/admin/vault-admin-token/work", tc.tok, tc.cookie, "GET")
			if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("= %d %s (Cache-Control %q)", w.Code, w.Body, w.Header().Get("Cache-Control"))
			}
			var resp vaults.AdminTokenResponse
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			c, err := h.store.Verify(context.Background(), resp.Token, auth.VerifyOptions{Issuers: []string{h.origins.Issuer()}, Audiences: []string{"vault.work"}})
			if err != nil {
				t.Fatalf("token does not verify for aud vault.work: %v", err)
			}
			got := struct {
				Sub, Scope string
				Pin        []string
				TTL        time.Duration
				Scopes     []string
				Expires    string
			}{c.Subject, c.Scope, c.VaultScope, time.Duration(c.ExpiresAt-c.IssuedAt) * time.Second, resp.Scopes, resp.ExpiresAt}
			want := got
			want.Sub, want.Scope, want.Pin, want.TTL, want.Scopes = tc.subject, "vault:work:admin", []string{"work"}, 5*time.Minute, []string{"vault:work:admin"}
			want.Expires = hubdb.FormatTime(c.Expiry())
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("token (-want +got):\n%s", d)
			}
			if _, err := h.store.Verify(context.Background(), resp.Token, auth.VerifyOptions{Issuers: []string{h.origins.Issuer()}, Audiences: []string{"vault.default"}}); err == nil {
				t.Error("the work admin token verifies for vault.default too")
			}
		})
	}
}

// TestCreateVaultRequests: POST /vaults's authentication and validation,
// and the 200 for a vault that exists (nothing is run). Creating a new
// one runs vault: internal/install's TestVaultInitAfterInstall and the
// e2e TestVaultInstances cover it.
func TestCreateVaultRequests(t *testing.T) {
	h, _ := vaultHub(t)
	issuer := strings.TrimRight(h.origins.Issuer(), "/")
	for _, tc := range []struct {
		name   string
		q      routerReq
		ctype  string
		status int
		code   string
		body   string
	}{
		{name: "no bearer", q: postJSON("/vaults", noToken, `{"name":"x1"}`), status: 401, code: "unauthenticated"},
		{name: "no host:admin", q: postJSON("/vaults", authOnly, `{"name":"x1"}`), status: 403, code: "insufficient_scope"},
		{name: "GET", q: get("/vaults", operator), status: 405, code: "method_not_allowed"},
		{name: "not JSON", q: postJSON("/vaults", operator, `name=x1`), ctype: "application/x-www-form-urlencoded", status: 400, code: "invalid_request"},
		{name: "bad JSON", q: postJSON("/vaults", operator, `{"name":`), status: 400, code: "invalid_request"},
		{name: "no name", q: postJSON("/vaults", operator, `{}`), status: 400, code: "invalid_request"},
		{name: "name not a string", q: postJSON("/vaults", operator, `{"name":7}`), status: 400, code: "invalid_request"},
		{name: "path in name", q: postJSON("/vaults", operator, `{"name":"../x"}`), status: 400, code: "invalid_request"},
		{name: "reserved", q: postJSON("/vaults", operator, `{"name":"new"}`), status: 400, code: "invalid_request"},
		{name: "install with a bad vault_name", q: postJSON("/api/modules/vault/install", operator, `{"vault_name":"a/b"}`), status: 400, code: "invalid_request"},
		{name: "exists", q: postJSON("/vaults", operator, `{"name":"work"}`), status: 200,
			body: `{"name":"work","url":"` + issuer + `/vault/work","version":"0.3.6"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ctype != "" {
				tc.q = withHeader(tc.q, "Content-Type", tc.ctype)
			}
			w := h.do(tc.q)
			var body struct{ Error string }
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != tc.status || body.Error != tc.code {
				t.Fatalf("= %d %s, want %d %s", w.Code, w.Body, tc.status, tc.code)
			}
			if tc.body != "" && strings.TrimSpace(w.Body.String()) != tc.body {
				t.Errorf("body = %s, want %s", w.Body, tc.body)
			}
		})
	}
}
