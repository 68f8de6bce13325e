package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/openparachute/parachute/internal/auth"
)

// hiddenInput matches the hidden inputs of the hub's server-rendered forms
// (login and consent); a regexp, not an HTML parser, because x/net/html is
// not a direct dependency and these templates are ours.
var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields returns the hidden inputs of page, unescaped.
func hiddenFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// browser is a cookie-keeping HTTP client that follows redirects, as a
// browser would, ending at the client's redirect_uri listener.
type browser struct {
	t *testing.T
	c *http.Client
}

// do sends r and returns the final status, URL and body.
func (b browser) do(r *http.Request) (int, *url.URL, string) {
	b.t.Helper()
	resp, err := b.c.Do(r)
	if err != nil {
		b.t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, resp.Request.URL, string(body)
}

func (b browser) get(u string) (int, *url.URL, string) {
	r, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(r)
}

func (b browser) postForm(u string, form url.Values) (int, *url.URL, string) {
	r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

// startWithAlice starts a hub whose admin, alice (password "correct horse
// battery"), was seeded by PARACHUTE_INITIAL_ADMIN_*, and returns once its
// sign-in page answers.
func startWithAlice(t *testing.T) *hubEnv {
	t.Helper()
	h := newHome(t)
	h.extraEnv = []string{"PARACHUTE_INITIAL_ADMIN_USERNAME=alice", "PARACHUTE_INITIAL_ADMIN_PASSWORD=correct horse battery"}
	h.start()
	waitFor(t, "the sign-in page", 10*time.Second, func() bool {
		resp, err := http.Get(h.url("/login"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return h
}

// dcrReply is the part of /oauth/register's answer these tests check.
type dcrReply struct {
	ClientID string `json:"client_id"`
	Status   string `json:"status"`
}

// register posts the DCR body to iss's /oauth/register, as the bearer of
// token when it is not empty, and returns the status and the reply; err
// is the decoding's.
func register(t *testing.T, iss, body, token string) (int, dcrReply, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, iss+"/oauth/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reg dcrReply
	err = json.NewDecoder(resp.Body).Decode(&reg)
	return resp.StatusCode, reg, err
}

// adminClient is the oauth2 client, asking for hub:admin, of the client id
// registered at iss with redirect.
func adminClient(iss, clientID, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"hub:admin"},
		Endpoint: oauth2.Endpoint{AuthURL: iss + "/oauth/authorize", TokenURL: iss + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
}

// TestOAuthFlowEndToEnd drives the whole authorization-code flow against
// the real binary with golang.org/x/oauth2 as the client: DCR as the
// operator → /oauth/authorize hands off to /login → the login form with
// its CSRF cookie and field → the consent page and its CSRF → the code
// lands on the client's redirect_uri (a local listener) → the PKCE
// exchange → GET /api/me with the aud "hub" access token → refresh →
// replaying the old refresh token revokes the family → a fresh grant
// (consent skipped: the grant covers it) → an expired copy of its access
// token is refused → /oauth/revoke. Then the token
// endpoint's refusals that need a real code: wrong verifier, reused code,
// mismatched redirect_uri; a parachute:host:* scope at authorize; a module
// audience at /api/me; and an unregistered redirect_uri at authorize.
func TestOAuthFlowEndToEnd(t *testing.T) {
	h := startWithAlice(t)
	ctx := context.Background()
	iss := h.url("")

	// The client's redirect_uri: it answers with the query it was sent,
	// so the browser's last hop hands the test the code.
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.RawQuery)
	}))
	t.Cleanup(cb.Close)
	redirect := cb.URL + "/cb"

	body := `{"redirect_uris":["` + redirect + `"],"client_name":"e2e flow","scope":"hub:admin"}`
	status, reg, err := register(t, iss, body, h.token())
	if err != nil || status != 201 || reg.Status != "approved" {
		t.Fatalf("DCR as the operator: %d %+v %v", status, reg, err)
	}
	cfg := adminClient(iss, reg.ClientID, redirect)

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := browser{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}

	// authorize signed out → /login; sign in there with the form's CSRF.
	v := oauth2.GenerateVerifier()
	st, at, page := b.get(cfg.AuthCodeURL("st1", oauth2.S256ChallengeOption(v)))
	if st != 200 || at.Path != "/login" || !strings.Contains(page, `name="password"`) {
		t.Fatalf("signed-out authorize ended at %d %s, want the login form", st, at)
	}
	form := hiddenFields(page)
	if form.Get("__csrf") == "" || !strings.HasPrefix(form.Get("next"), "/oauth/authorize?") {
		t.Fatalf("login form hidden fields %v", form)
	}
	noCSRF := url.Values{"username": {"alice"}, "password": {"correct horse battery"}, "next": {form.Get("next")}}
	if st, _, _ := b.postForm(iss+"/login", noCSRF); st < 400 {
		t.Fatalf("login without the CSRF field: %d, want a refusal", st)
	}
	form.Set("username", "alice")
	form.Set("password", "correct horse battery")
	st, at, page = b.postForm(iss+"/login", form)
	if st != 200 || at.Path != "/oauth/authorize" || !strings.Contains(page, `name="__action" value="consent"`) {
		t.Fatalf("after login: %d %s, want the consent page:\n%s", st, at, page)
	}

	// /api/me with the browser's session: the reference's shape.
	me := func(bearer string, c *http.Client) (int, map[string]any) {
		t.Helper()
		r, _ := http.NewRequest(http.MethodGet, iss+"/api/me", nil)
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("/api/me Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
		}
		return resp.StatusCode, out
	}
	if st, out := me("", b.c); st != 200 || out["hasSession"] != true || out["csrf"] == "" ||
		out["user"].(map[string]any)["displayName"] != "alice" {
		t.Fatalf("/api/me with the session: %d %v", st, out)
	}
	if st, out := me("", http.DefaultClient); st != 200 || out["hasSession"] != false || out["user"] != nil {
		t.Fatalf("/api/me for nobody: %d %v", st, out)
	}

	// Consent: approve with the page's CSRF; the code lands on redirect_uri.
	consent := hiddenFields(page)
	consent.Set("decision", "approve")
	st, at, got := b.postForm(iss+"/oauth/authorize", consent)
	q, _ := url.ParseQuery(got)
	if st != 200 || at.Host != strings.TrimPrefix(cb.URL, "http://") || q.Get("state") != "st1" || q.Get("code") == "" {
		t.Fatalf("consent: %d %s %q, want a code on the redirect_uri", st, at, got)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token response %+v", tok)
	}

	// The access token has aud "hub": /api/me answers for alice, and the
	// operator routes still want their parachute:host:* scopes.
	st, out := me(tok.AccessToken, http.DefaultClient)
	if st != 200 || out["via"] != "bearer" || out["client_id"] != reg.ClientID ||
		out["user"].(map[string]any)["displayName"] != "alice" {
		t.Fatalf("/api/me with the access token: %d %v", st, out)
	}
	if st, _ := h.api(http.MethodGet, "/api/hub", map[string]string{"Authorization": "Bearer " + tok.AccessToken}); st != 403 {
		t.Errorf("/api/hub with a hub:admin OAuth token: %d, want 403", st)
	}

	// Refresh rotates; replaying the old refresh token revokes the family.
	tok2, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %+v %v", tok2, err)
	}
	if st, _ := me(tok2.AccessToken, http.DefaultClient); st != 200 {
		t.Fatalf("/api/me with the refreshed token: %d", st)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	wantRetrieveErr(t, err, "invalid_grant")
	if st, _ := me(tok2.AccessToken, http.DefaultClient); st != 401 {
		t.Errorf("/api/me with the family's newest access token after a replay: %d, want 401", st)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
	wantRetrieveErr(t, err, "invalid_grant")

	// A fresh code: the grant now covers hub:admin, so consent is skipped.
	code := func(state, redirectURI string) (string, string) {
		t.Helper()
		v := oauth2.GenerateVerifier()
		c := *cfg
		c.RedirectURL = redirectURI
		st, at, got := b.get(c.AuthCodeURL(state, oauth2.S256ChallengeOption(v)))
		q, _ := url.ParseQuery(got)
		if st != 200 || at.Path != "/cb" || q.Get("state") != state || q.Get("code") == "" {
			t.Fatalf("authorize with a covering grant: %d %s %q, want a code", st, at, got)
		}
		return q.Get("code"), v
	}
	c3, v3 := code("st3", redirect)
	tok3, err := cfg.Exchange(ctx, c3, oauth2.VerifierOption(v3))
	if err != nil {
		t.Fatalf("exchange after the replay: %v", err)
	}
	revoke := func(token string) {
		t.Helper()
		resp, err := http.PostForm(iss+"/oauth/revoke", url.Values{"token": {token}, "client_id": {reg.ClientID}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("revoke: %d, want 200", resp.StatusCode)
		}
	}
	if st, _ := me(tok3.AccessToken, http.DefaultClient); st != 200 {
		t.Fatalf("/api/me before revoke: %d", st)
	}
	// Expired: the same claims (jti included, so the registry row is the
	// same) signed with the hub's own key, only iat/exp an hour back. An
	// access token lives 15 minutes; re-signing is how a test gets an
	// expired one without waiting.
	if st, out := me(expired(t, h.root, tok3.AccessToken), http.DefaultClient); st != 401 {
		t.Errorf("/api/me with an expired access token: %d %v, want 401", st, out)
	}
	revoke(tok3.AccessToken)
	if st, _ := me(tok3.AccessToken, http.DefaultClient); st != 401 {
		t.Errorf("/api/me after /oauth/revoke of the access token: %d, want 401", st)
	}
	revoke(tok3.RefreshToken)
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok3.RefreshToken}).Token()
	wantRetrieveErr(t, err, "invalid_grant")

	// Refusals that need a real code.
	c4, _ := code("st4", redirect)
	_, err = cfg.Exchange(ctx, c4, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantRetrieveErr(t, err, "invalid_grant") // wrong verifier

	c5, v5 := code("st5", redirect)
	if _, err := cfg.Exchange(ctx, c5, oauth2.VerifierOption(v5)); err != nil {
		t.Fatalf("first use of a code: %v", err)
	}
	_, err = cfg.Exchange(ctx, c5, oauth2.VerifierOption(v5))
	wantRetrieveErr(t, err, "invalid_grant") // reused code

	c6, v6 := code("st6", redirect)
	other := *cfg
	other.RedirectURL = cb.URL + "/other"
	_, err = other.Exchange(ctx, c6, oauth2.VerifierOption(v6))
	wantRetrieveErr(t, err, "invalid_grant") // redirect_uri differs from the code's

	// Scope escalation: a non-requestable host scope is refused on the
	// redirect_uri, signed in as the first admin or not.
	esc := *cfg
	esc.Scopes = []string{"hub:admin", "parachute:host:admin"}
	st, at, got = b.get(esc.AuthCodeURL("st8", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if q, _ := url.ParseQuery(got); st != 200 || at.Path != "/cb" || q.Get("error") != "invalid_scope" || q.Get("code") != "" {
		t.Errorf("authorize for parachute:host:admin: %d %s %q, want error=invalid_scope", st, at, got)
	}

	// Wrong audience: a module token (aud vault.default) is not a hub bearer.
	mreq, _ := http.NewRequest(http.MethodPost, iss+"/api/auth/mint-token", strings.NewReader(`{"scope":"vault:default:read","ephemeral":true}`))
	mreq.Header.Set("Content-Type", "application/json")
	mreq.Header.Set("Authorization", "Bearer "+h.token())
	resp, err := http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	var minted struct {
		Token    string `json:"token"`
		Audience string `json:"audience"`
	}
	err = json.NewDecoder(resp.Body).Decode(&minted)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || minted.Audience != "vault.default" {
		t.Fatalf("mint-token: %d %+v %v", resp.StatusCode, minted, err)
	}
	if st, out := me(minted.Token, http.DefaultClient); st != 401 {
		t.Errorf("/api/me with an aud vault.default token: %d %v, want 401", st, out)
	}

	// An unregistered redirect_uri is never redirected to.
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(other.AuthCodeURL("st7", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("authorize with an unregistered redirect_uri: %d %q, want a 400 page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// expired re-signs access token tok with the signing key in root's hub.db
// (opened beside the running hub, as the CLI does), keeping every claim
// but iat and exp, which move an hour and a half back.
func expired(t *testing.T, root, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWS", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c auth.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	store, err := auth.Open(filepath.Join(root, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	c.IssuedAt, c.ExpiresAt = now.Add(-90*time.Minute).Unix(), now.Add(-75*time.Minute).Unix()
	out, err := store.Mint(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
