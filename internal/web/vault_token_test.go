package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/ratelimit"
)

var mintedRE = regexp.MustCompile(`<code id="minted-token">([^<]+)</code>`)

// TestVaultTokenThroughThePage: a friend signs in, the account page shows
// a mint form for each assigned vault, the POST (with its CSRF token)
// shows a token once, and that token verifies for aud vault.<name> with
// exactly the scope asked for, pinned to the vault and anchored to the
// user. What the role does not allow, an unassigned vault, the first
// admin, a bad name or verb, a forged or signed-out post are refused; the
// per-user rate limit applies.
func TestVaultTokenThroughThePage(t *testing.T) {
	e := newEnvOpts(t, Limits{VaultToken: ratelimit.Config{Burst: 3, Per: time.Hour}}, true)
	ctx := context.Background()
	bob, err := e.store.Create(ctx, "bob", testPassword, accounts.CreateOptions{AllowMulti: true, PasswordChanged: true, Vaults: []string{"work"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tokens.DB().ExecContext(ctx, `INSERT INTO user_vaults (user_id, vault_name, role, created_at)
		VALUES (?, 'notes', 'read', '2026-03-04T05:06:07.000Z')`, bob.ID); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if r := b.login("bob", testPassword, ""); r.Code != http.StatusSeeOther {
		t.Fatalf("login: %d", r.Code)
	}
	page := b.get("/account/")
	if page.Code != 200 || !strings.Contains(page.Body, `action="/account/vault-token/work"`) ||
		!strings.Contains(page.Body, `action="/account/vault-token/notes"`) {
		t.Fatalf("account page has no mint forms: %d\n%s", page.Code, page.Body)
	}
	mint := func(b *browser, vault, verb string) resp {
		return b.post("/account/vault-token/"+vault, url.Values{"verb": {verb}})
	}
	check := func(r resp, vault, verb string) {
		t.Helper()
		m := mintedRE.FindStringSubmatch(r.Body)
		if r.Code != 200 || m == nil {
			t.Fatalf("mint %s %s: %d, no token shown\n%s", vault, verb, r.Code, r.Body)
		}
		c, err := e.tokens.Verify(ctx, m[1], auth.VerifyOptions{Issuers: []string{testIssuer}, Audiences: []string{"vault." + vault}})
		if err != nil {
			t.Fatalf("the shown token does not verify for vault.%s: %v", vault, err)
		}
		if c.Scope != "vault:"+vault+":"+verb || c.Subject != bob.ID || !slices.Equal(c.VaultScope, []string{vault}) || c.ClientID != accountTokenClientID {
			t.Errorf("claims %+v", c)
		}
		if _, err := e.tokens.Verify(ctx, m[1], auth.VerifyOptions{Issuers: []string{testIssuer}, Audiences: []string{"vault.other"}}); err == nil {
			t.Errorf("the token verifies for another vault's audience")
		}
		var uid string
		if err := e.tokens.DB().QueryRowContext(ctx, `SELECT user_id FROM tokens WHERE jti = ?`, c.JTI).Scan(&uid); err != nil || uid != bob.ID {
			t.Errorf("registry row user_id = %q (%v), want bob", uid, err)
		}
	}
	check(mint(b, "work", "write"), "work", "write")
	check(mint(b, "notes", "read"), "notes", "read")

	refused := []struct {
		name         string
		b            *browser
		vault, verb  string
		status       int
		bodyContains string
	}{
		{"verb the role does not allow", b, "notes", "write", 403, "doesn&#39;t allow minting a write token"},
		{"unassigned vault", b, "default", "read", 403, "not assigned to a vault named"},
		{"bad vault name", b, "a.b", "read", 400, "not a valid vault name"},
		{"bad verb", b, "work", "owner", 400, "Pick an access level"},
		{"signed out", e.browser(), "work", "read", 401, "signed out"},
	}
	admin := e.browser()
	admin.login("alice", testPassword, "")
	refused = append(refused, struct {
		name         string
		b            *browser
		vault, verb  string
		status       int
		bodyContains string
	}{"first admin (no assignments)", admin, "work", "read", 403, "not assigned"})
	for _, c := range refused {
		r := mint(c.b, c.vault, c.verb)
		if r.Code != c.status || !strings.Contains(r.Body, c.bodyContains) || mintedRE.MatchString(r.Body) {
			t.Errorf("%s: %d, want %d containing %q\n%s", c.name, r.Code, c.status, c.bodyContains, r.Body)
		}
	}
	// A friend still on the password an admin set mints nothing.
	if _, err := e.store.Create(ctx, "carol", testPassword, accounts.CreateOptions{AllowMulti: true, Vaults: []string{"work"}}); err != nil {
		t.Fatal(err)
	}
	carol := e.browser()
	carol.login("carol", testPassword, "")
	if r := mint(carol, "work", "read"); r.Code != http.StatusForbidden || !strings.Contains(r.Body, "Choose your own password first") || mintedRE.MatchString(r.Body) {
		t.Errorf("admin-set password: %d\n%s", r.Code, r.Body)
	}
	// A cross-site post (no CSRF field) is refused before anything else.
	forged := b.postRaw("/account/vault-token/work", url.Values{"verb": {"write"}}, map[string]string{"Origin": "https://evil.example"})
	if forged.Code != http.StatusForbidden || mintedRE.MatchString(forged.Body) {
		t.Errorf("forged post: %d", forged.Code)
	}
	// The third mint uses up the burst of 3; the fourth is limited.
	check(mint(b, "work", "read"), "work", "read")
	if r := mint(b, "work", "read"); r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || mintedRE.MatchString(r.Body) {
		t.Errorf("4th mint: %d, want 429 with Retry-After", r.Code)
	}
}
