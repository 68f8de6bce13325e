package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/ratelimit"
	"github.com/openparachute/parachute/internal/sessions"
)

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, p := range []string{"/login", "/account/", "/account/2fa", "/account/change-password", "/static/hub.css"} {
		r := b.get(p)
		for k, want := range map[string]string{
			"Content-Security-Policy": ContentSecurityPolicy, "Cache-Control": "no-store",
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", p, k, got, want)
			}
		}
	}
	if r := b.get("/static/"); r.Code != http.StatusNotFound {
		t.Errorf("/static/ listing: %d, want 404", r.Code)
	}
	if r := b.get(StylePath); !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet Content-Type %q", r.Header.Get("Content-Type"))
	}
	if r := b.login("alice", testPassword, ""); r.Code != http.StatusSeeOther {
		t.Fatalf("login %d", r.Code)
	}
	if r := b.get("/account/"); r.Header.Get("Content-Security-Policy") != ContentSecurityPolicy || r.Code != 200 {
		t.Errorf("signed-in account page: %d %v", r.Code, r.Header)
	}
}

func TestLoginFormsRefuseForgedPosts(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	tok := b.csrf()
	same := map[string]string{"Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"}
	cases := []struct {
		name    string
		path    string
		csrf    string
		headers map[string]string
		want    int
	}{
		{"login without token", "/login", "", same, 403},
		{"login with wrong token", "/login", strings.Repeat("x", len(tok)), same, 403},
		{"login cross-site", "/login", tok, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"login foreign origin, no fetch metadata", "/login", tok, map[string]string{"Origin": "https://evil.example"}, 403},
		{"2fa without token", "/login/2fa", "", same, 403},
		{"logout without token", "/logout", "", same, 403},
		{"change-password without token", "/account/change-password", "", same, 403},
		{"2fa enrol cross-site", "/account/2fa", tok, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"login same-origin with token", "/login", tok, same, 303},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{"username": {"alice"}, "password": {testPassword}, "action": {"start"}}
			if c.csrf != "" {
				form.Set(sessions.CSRFField, c.csrf)
			}
			if r := b.postRaw(c.path, form, c.headers); r.Code != c.want {
				t.Errorf("status %d, want %d", r.Code, c.want)
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	// Forged posts are refused before the limiter and cost nothing.
	for range 10 {
		if r := b.postRaw("/login", url.Values{"username": {"alice"}}, nil); r.Code != 403 {
			t.Fatalf("forged post %d", r.Code)
		}
	}
	for i := range 5 {
		if r := b.login("alice", "wrong password!!", ""); r.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.Code)
		}
	}
	r := b.login("alice", testPassword, "")
	if r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d Retry-After %q", r.Code, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(r.Body, "Too many attempts") {
		t.Errorf("429 body: %s", r.Body)
	}
	e.clk.Add(15 * time.Minute)
	if r := b.login("alice", testPassword, ""); r.Code != http.StatusSeeOther {
		t.Errorf("after the window: %d", r.Code)
	}
}

func TestLoginNextRules(t *testing.T) {
	e := newEnvLimits(t, Limits{Login: ratelimit.Config{Burst: 100, Per: time.Minute}})
	friend, err := e.store.Create(context.Background(), "bob", testPassword,
		accounts.CreateOptions{AllowMulti: true, PasswordChanged: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = friend
	cases := []struct {
		user, next, want string
	}{
		{"alice", "", DefaultNext},
		{"alice", "/oauth/authorize?client_id=x&state=y", "/oauth/authorize?client_id=x&state=y"},
		{"alice", "/admin/vaults", "/admin/vaults"},
		{"bob", "/admin/vaults", DefaultNext},
		{"bob", "/admin", DefaultNext},
		{"alice", "//evil.example/", DefaultNext},
		{"alice", "/\\evil.example/", DefaultNext},
		{"alice", "https://evil.example/", DefaultNext},
		{"alice", "evil", DefaultNext},
		{"alice", "/x\r\nSet-Cookie: a=b", DefaultNext},
	}
	for _, c := range cases {
		t.Run(c.user+" "+c.next, func(t *testing.T) {
			r := e.browser().login(c.user, testPassword, c.next)
			if r.Code != http.StatusSeeOther || r.Header.Get("Location") != c.want {
				t.Errorf("%d Location %q, want %q", r.Code, r.Header.Get("Location"), c.want)
			}
		})
	}
}

func TestLoginIssuesFreshSession(t *testing.T) {
	e := newEnv(t)
	// An attacker plants a session cookie of their own; signing in must
	// not adopt it.
	planted, _, err := e.sess.Create(context.Background(), e.admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.csrf()
	u, _ := url.Parse(e.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessions.SessionCookie, Value: planted, Path: "/"}})
	if r := b.login("alice", testPassword, ""); r.Code != http.StatusSeeOther {
		t.Fatalf("login %d", r.Code)
	}
	got := b.cookie(sessions.SessionCookie)
	if got == "" || got == planted {
		t.Fatalf("session after login = %q (planted %q)", got, planted)
	}
	if _, err := e.sess.Lookup(context.Background(), planted); err == nil {
		t.Error("planted session still live")
	}
}

func TestUnknownUserCostsAVerification(t *testing.T) {
	e := newEnv(t)
	calls := 0
	old := verifyPassword
	verifyPassword = func(h, p string) (bool, error) { calls++; return old(h, p) }
	t.Cleanup(func() { verifyPassword = old })
	if r := e.browser().login("nobody", testPassword, ""); r.Code != http.StatusUnauthorized ||
		!strings.Contains(r.Body, "Invalid credentials.") {
		t.Fatalf("unknown user: %d", r.Code)
	}
	if calls != 1 {
		t.Errorf("argon2id verifications for an unknown user = %d, want 1", calls)
	}
}

func TestLoginPasswordCap(t *testing.T) {
	e := newEnv(t)
	if r := e.browser().login("alice", strings.Repeat("p", accounts.MaxPasswordBytes+1), ""); r.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized password: %d, want 413", r.Code)
	}
}

func TestSessionExpiresAfterADayAndLogoutEnds(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice", testPassword, "")
	if r := b.get("/account/"); r.Code != 200 {
		t.Fatalf("account %d", r.Code)
	}
	e.clk.Add(24 * time.Hour)
	if r := b.get("/account/"); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Faccount%2F" {
		t.Fatalf("after 24 h: %d %q", r.Code, r.Header.Get("Location"))
	}
	b.login("alice", testPassword, "")
	raw := b.cookie(sessions.SessionCookie)
	if r := b.post("/logout", url.Values{}); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout %d", r.Code)
	}
	if _, err := e.sess.Lookup(context.Background(), raw); err == nil {
		t.Error("session live after logout")
	}
}

func TestMustChangePasswordFirst(t *testing.T) {
	e := newEnv(t)
	if _, err := e.store.Create(context.Background(), "bob", testPassword, accounts.CreateOptions{AllowMulti: true}); err != nil {
		t.Fatal(err)
	}
	r := e.browser().login("bob", testPassword, "/account/2fa")
	if want := "/account/change-password?next=%2Faccount%2F2fa"; r.Header.Get("Location") != want {
		t.Errorf("Location %q, want %q", r.Header.Get("Location"), want)
	}
}
