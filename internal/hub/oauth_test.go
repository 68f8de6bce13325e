package hub

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/accounts"
	"golang.org/x/oauth2"
)

// seededSessions signs in whoever presents the test cookie: the hub's
// OAuth flow only needs sessions.Manager.Current, which the sessions
// package provides in production.
type seededSessions map[string]string

func (s seededSessions) Current(r *http.Request) (string, bool) {
	c, err := r.Cookie("seeded")
	if err != nil {
		return "", false
	}
	uid, ok := s[c.Value]
	return uid, ok
}

// TestHubOAuth drives the OAuth server through the real hub router on a
// real port: metadata (hub and per vault mount), CORS preflight, DCR with
// the operator token (approved, same_hub), authorize for a signed-out
// browser (login hand-off) and a signed-in one (same_hub, non-admin scope:
// no consent), the code exchanged with golang.org/x/oauth2 and PKCE, and
// the token refused by the hub's own API (wrong audience).
func TestHubOAuth(t *testing.T) {
	h := newTestHub(t, Limits{}, 0)
	ctx := context.Background()
	b, _ := json.Marshal(map[string]any{"services": []map[string]any{{
		"name": "parachute-vault", "port": 1940, "paths": []string{"/vault/default"}, "health": "/vault/default/health", "version": "1.2.3"}}})
	if err := os.WriteFile(h.paths.ServicesJSON(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	admin, err := accounts.NewStore(h.store.DB()).Create(ctx, "owner", "correct horse battery", accounts.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.s.SetSessions(seededSessions{"c00kie": admin.ID})
	iss := h.origins.Issuer()

	var meta map[string]any
	getJSON(t, h.url("/.well-known/oauth-authorization-server"), &meta)
	if meta["issuer"] != iss || meta["token_endpoint"] != iss+"/oauth/token" {
		t.Errorf("AS metadata %v", meta)
	}
	for _, sc := range meta["scopes_supported"].([]any) {
		if strings.HasPrefix(sc.(string), "parachute:host:") {
			t.Errorf("metadata advertises %s", sc)
		}
	}
	var prm map[string]any
	getJSON(t, h.url("/.well-known/oauth-protected-resource/vault/default"), &prm)
	if prm["resource"] != iss+"/vault/default" {
		t.Errorf("vault PRM %v", prm)
	}
	if code, _ := h.get("/.well-known/oauth-protected-resource/vault/nope"); code != 404 {
		t.Errorf("PRM of an unmounted path: %d, want 404", code)
	}

	pre, _ := http.NewRequest("OPTIONS", h.url("/oauth/token"), nil)
	pre.Header.Set("Origin", "https://claude.ai")
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://claude.ai" {
		t.Errorf("preflight %d %v", resp.StatusCode, resp.Header)
	}

	reg, _ := http.NewRequest("POST", h.url("/oauth/register"), strings.NewReader(`{"redirect_uris":["http://127.0.0.1:9/cb"],"client_name":"CLI"}`))
	reg.Header.Set("Authorization", "Bearer "+h.token)
	var client map[string]any
	doJSON(t, reg, 201, &client)
	if client["status"] != "approved" || client["same_hub"] != true {
		t.Fatalf("DCR with the operator token: %v", client)
	}
	cfg := &oauth2.Config{ClientID: client["client_id"].(string), RedirectURL: "http://127.0.0.1:9/cb",
		Scopes: []string{"vault:default:read"}, Endpoint: oauth2.Endpoint{AuthURL: h.url("/oauth/authorize"),
			TokenURL: h.url("/oauth/token"), AuthStyle: oauth2.AuthStyleInParams}}
	v := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err = noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, "/login?next=") {
		t.Fatalf("signed out: %d %q, want the login hand-off", resp.StatusCode, loc)
	}

	req, _ := http.NewRequest("GET", authURL, nil)
	req.AddCookie(&http.Cookie{Name: "seeded", Value: "c00kie"})
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("code") == "" {
		t.Fatalf("signed in, same_hub client: %d %q, want a code without consent", resp.StatusCode, loc)
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := tok.Extra("services").(map[string]any)
	if vault, _ := svcs["vault"].(map[string]any); vault["url"] != iss+"/vault/default" || vault["version"] != "1.2.3" {
		t.Errorf("services catalog %v", svcs)
	}
	api, _ := http.NewRequest("GET", h.url("/api/modules"), nil)
	api.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(api)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), "vault.default") {
		t.Errorf("hub API with a vault token: %d %s, want 401 naming the audience", resp.StatusCode, body)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	doJSON(t, req, 200, v)
}

func doJSON(t *testing.T, req *http.Request, want int, v any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d, want %d: %s", req.Method, req.URL, resp.StatusCode, want, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
