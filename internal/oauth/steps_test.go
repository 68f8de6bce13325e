package oauth

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/sessions"
	"golang.org/x/oauth2"
)

// TestModuleDeclaredScopes: a module's module.json scopes.defines become
// requestable and advertised; an undeclared scope of the same namespace
// stays invalid_scope.
func TestModuleDeclaredScopes(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
		t.Fatal(err)
	}
	mj := `{"name":"agent","paths":["/agent"],"scopes":{"defines":["agent:run"]}}`
	if err := os.WriteFile(manifest.ModulePath(dir), []byte(mj), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) {
		rows := o.Services()
		rows = append(rows, manifest.Service{Name: "agent", Port: 1950, Paths: []string{"/agent"}, Version: "0.1.0", InstallDir: dir})
		o.Services = func() []manifest.Service { return rows }
	})
	if got := advertised(e.srvOptsServices(t)); !slices.Contains(got, "agent:run") {
		t.Errorf("scopes_supported %v lacks agent:run", got)
	}
	client := e.publicClient("")
	b := e.browser(e.adminID)
	cfg := e.config(client, "agent:run")
	tok := authorizeAndExchange(t, e, b, cfg)
	if tok.Extra("scope") != "agent:run" {
		t.Fatalf("scope %v", tok.Extra("scope"))
	}
	if svcs, _ := tok.Extra("services").(map[string]any); svcs["agent"] == nil {
		t.Errorf("catalog %v lacks agent", svcs)
	}
	verifyAs(t, e, tok.AccessToken, "agent")
	resp, _ := get(t, b, e.config(client, "agent:destroy").AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if got := redirected(t, resp).Get("error"); got != "invalid_scope" {
		t.Errorf("undeclared agent:destroy: error %q, want invalid_scope", got)
	}
}

// TestConsentForm: the consent POST checks CSRF before anything else,
// needs a session, and a deny redirects with access_denied to the
// registered redirect_uri only.
func TestConsentForm(t *testing.T) {
	e := newEnv(t)
	_, reg := e.register(map[string]any{"redirect_uris": []string{testCallback}}, "")
	cfg := e.config(reg["client_id"].(string), "vault:default:read")
	b := e.browser(e.adminID)
	_, page := get(t, b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	post := func(c *http.Client, f url.Values) *http.Response {
		resp, err := c.PostForm(e.srv.URL+"/oauth/authorize", f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	clone := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range form {
			f[k] = slices.Clone(v)
		}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	if r := post(b, clone("__csrf", "forged-forged-forged-forged-forged-forged", "decision", "approve")); r.StatusCode != 400 {
		t.Errorf("forged CSRF: %d, want 400", r.StatusCode)
	}
	if r := post(e.browser(e.adminID), clone("decision", "approve")); r.StatusCode != 400 {
		t.Errorf("no CSRF cookie: %d, want 400", r.StatusCode)
	}
	if r := post(b, clone("decision", "approve", "redirect_uri", "https://evil.example/cb")); r.StatusCode != 400 {
		t.Errorf("consent to an unregistered redirect_uri: %d, want 400", r.StatusCode)
	}
	if q := redirected(t, post(b, clone("decision", "deny"))); q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Errorf("deny: %v", q)
	}
	c, err := SQLStore(e.store.DB()).Client(t.Context(), cfg.ClientID)
	if err != nil || c.Status != StatusPending {
		t.Fatalf("after deny the client is %v (%v), want still pending", c, err)
	}
	if q := redirected(t, post(b, clone("decision", "approve"))); q.Get("code") == "" {
		t.Errorf("approve: %v", q)
	}
	if c, _ := SQLStore(e.store.DB()).Client(t.Context(), cfg.ClientID); c.Status != StatusApproved {
		t.Errorf("the admin's consent left the client %s", c.Status)
	}
}

// TestApproveEndpoint: POST /oauth/authorize/approve's gates.
func TestApproveEndpoint(t *testing.T) {
	e := newEnv(t)
	_, reg := e.register(map[string]any{"redirect_uris": []string{testCallback}}, "")
	id := reg["client_id"].(string)
	ret := "/oauth/authorize?client_id=" + id
	csrf := "0123456789abcdef0123456789abcdef0123456789a"
	cases := []struct {
		name   string
		user   string
		csrf   string
		origin string
		ret    string
		want   int
	}{
		{"bad CSRF", e.adminID, "wrong", e.srv.URL, ret, 403},
		{"no session", "", csrf, e.srv.URL, ret, 401},
		{"cross-origin", e.adminID, csrf, "https://evil.example", ret, 403},
		{"Origin null", e.adminID, csrf, "null", ret, 403},
		{"friend", e.friendID, csrf, e.srv.URL, ret, 403},
		{"absolute return_to", e.adminID, csrf, e.srv.URL, "https://evil.example/oauth/authorize", 400},
		{"protocol-relative return_to", e.adminID, csrf, e.srv.URL, "//evil.example/oauth/authorize", 400},
		{"return_to off the authorize path", e.adminID, csrf, e.srv.URL, "/admin", 400},
		{"approved", e.adminID, csrf, e.srv.URL, ret, 302},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"__csrf": {tc.csrf}, "client_id": {id}, "return_to": {tc.ret}}
			req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/authorize/approve", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", tc.origin)
			req.AddCookie(&http.Cookie{Name: sessions.CSRFCookie, Value: csrf})
			resp, err := e.browser(tc.user).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 302 && resp.Header.Get("Location") != ret {
				t.Errorf("Location %q, want %q", resp.Header.Get("Location"), ret)
			}
		})
	}
	if c, _ := SQLStore(e.store.DB()).Client(t.Context(), id); c.Status != StatusApproved {
		t.Errorf("client %s after the approve POST", c.Status)
	}
}

// TestCORS: the API-style endpoints echo the Origin (preflight 204); the
// authorize pages send no CORS headers.
func TestCORS(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		wantACAO     string
		wantStatus   int
	}{
		{"OPTIONS", "/oauth/token", "https://claude.ai", 204},
		{"OPTIONS", "/oauth/register", "https://claude.ai", 204},
		{"POST", "/oauth/revoke", "https://claude.ai", 400},
		{"GET", "/oauth/authorize", "", 400},
		{"OPTIONS", "/oauth/authorize", "", 405},
		{"OPTIONS", "/.well-known/oauth-authorization-server", "*", 204},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
			req.Header.Set("Origin", "https://claude.ai")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.wantACAO || resp.StatusCode != tc.wantStatus {
				t.Errorf("%d ACAO %q, want %d %q", resp.StatusCode, got, tc.wantStatus, tc.wantACAO)
			}
		})
	}
}

// TestVaultPicker: an unnamed vault:<verb> is named by the consent page's
// picker (even for a client that would skip consent), and only a mounted
// vault can be picked.
func TestVaultPicker(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(e.publicClient(""), "vault:read")
	b := e.browser(e.adminID)
	v := oauth2.GenerateVerifier()
	resp, page := get(t, b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if resp.StatusCode != 200 || !strings.Contains(page, `<select name="vault_pick"><option value="default">`) {
		t.Fatalf("%d, want the consent page with a vault picker:\n%s", resp.StatusCode, page)
	}
	form := url.Values{"decision": {"approve"}}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	for _, tc := range []struct {
		pick string
		want int
	}{{"work", 400}, {"", 400}, {"default", 302}} {
		form.Set("vault_pick", tc.pick)
		resp, err := b.PostForm(e.srv.URL+"/oauth/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("pick %q: %d, want %d", tc.pick, resp.StatusCode, tc.want)
		}
		if tc.want != 302 {
			continue
		}
		tok, err := cfg.Exchange(t.Context(), redirected(t, resp).Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Extra("scope") != "vault:default:read" {
			t.Errorf("scope %v, want vault:default:read", tok.Extra("scope"))
		}
		verifyAs(t, e, tok.AccessToken, "vault.default")
	}
}
