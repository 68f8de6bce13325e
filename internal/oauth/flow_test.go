package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/auth"
	"golang.org/x/oauth2"
)

// TestFlow drives the whole flow with golang.org/x/oauth2 as the client:
// DCR (pending) → authorize as the admin → consent (approves the client)
// → code → token with PKCE → the access token verifies as a module would
// → refresh → replaying the old refresh token revokes the family →
// revoke.
func TestFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	code, reg := e.register(map[string]any{"redirect_uris": []string{testCallback}, "client_name": "Claude"}, "")
	if code != 201 || reg["status"] != "pending" || reg["same_hub"] != false || reg["client_secret"] != nil {
		t.Fatalf("DCR without authority: %d %v, want 201 pending public", code, reg)
	}
	cfg := e.config(reg["client_id"].(string), "vault:default:read scribe:transcribe")
	verifier := oauth2.GenerateVerifier()
	b := e.browser(e.adminID)
	resp, page := get(t, b, cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)))
	if resp.StatusCode != 200 || !strings.Contains(page, "This app is new") || !strings.Contains(page, "vault:default:read") {
		t.Fatalf("authorize: %d, want the consent page naming the new app:\n%s", resp.StatusCode, page)
	}
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("consent page X-Frame-Options = %q, want DENY", got)
	}
	q := redirected(t, consent(t, b, e.srv.URL, page, "approve"))
	if q.Get("state") != "st4te" || q.Get("iss") != e.srv.URL || q.Get("code") == "" {
		t.Fatalf("callback query %v", q)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Extra("scope") != "vault:default:read scribe:transcribe" {
		t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
	}
	if exp := time.Until(tok.Expiry); exp < 14*time.Minute || exp > 15*time.Minute+time.Second {
		t.Errorf("access token lifetime %s, want 15m", exp)
	}
	svcs, _ := tok.Extra("services").(map[string]any)
	if svcs["vault:default"] == nil || svcs["scribe"] == nil || svcs["vault"] == nil {
		t.Errorf("services catalog %v, want vault, vault:default and scribe", svcs)
	}
	c := verifyAs(t, e, tok.AccessToken, "vault.default")
	if c.Subject != e.adminID || c.ClientID != cfg.ClientID || c.Issuer != e.srv.URL {
		t.Errorf("claims %+v", c)
	}
	// Wrong audience: a hub endpoint (aud operator) refuses it.
	if _, err := e.store.Verify(ctx, tok.AccessToken, auth.VerifyOptions{Issuers: []string{e.srv.URL}, Audiences: auth.HubAudiences()}); err == nil {
		t.Error("a vault.default token verified for the hub's own audience")
	}
	// Expired: 15 minutes on, the access token no longer verifies.
	if _, err := e.store.Verify(ctx, tok.AccessToken, auth.VerifyOptions{Issuers: []string{e.srv.URL},
		Now: time.Now().Add(16 * time.Minute)}); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("verify 16 min later: %v, want ErrExpired", err)
	}

	// The grant now covers these scopes: a second authorization skips consent.
	resp, _ = get(t, b, cfg.AuthCodeURL("again", oauth2.S256ChallengeOption(verifier)))
	if q := redirected(t, resp); q.Get("code") == "" {
		t.Fatalf("second authorization did not skip consent: %v", q)
	}

	// Refresh rotates; the new access token has a new jti.
	tok2, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate")
	}
	verifyAs(t, e, tok2.AccessToken, "vault.default")
	if _, err := e.store.Verify(ctx, tok.AccessToken, auth.VerifyOptions{Issuers: []string{e.srv.URL}}); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("old access token after rotation: %v, want ErrRevoked", err)
	}
	// Replaying the rotated refresh token is theft: the family dies.
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	wantOAuthErr(t, err, "invalid_grant")
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token()
	wantOAuthErr(t, err, "invalid_grant")
	if _, err := e.store.Verify(ctx, tok2.AccessToken, auth.VerifyOptions{Issuers: []string{e.srv.URL}}); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("family member after replay: %v, want ErrRevoked", err)
	}

	// A fresh grant, revoked through /oauth/revoke by its refresh token.
	tok3 := authorizeAndExchange(t, e, b, cfg)
	r, err := http.PostForm(e.srv.URL+"/oauth/revoke", url.Values{"token": {tok3.RefreshToken}, "client_id": {cfg.ClientID}})
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", r, err)
	}
	r.Body.Close()
	if _, err := e.store.Verify(ctx, tok3.AccessToken, auth.VerifyOptions{Issuers: []string{e.srv.URL}}); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("access token after revoking its refresh token: %v, want ErrRevoked", err)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok3.RefreshToken}).Token()
	wantOAuthErr(t, err, "invalid_grant")
}

// authorizeAndExchange runs authorize (consent already granted) and the
// code exchange.
func authorizeAndExchange(t *testing.T, e *env, b *http.Client, cfg *oauth2.Config) *oauth2.Token {
	t.Helper()
	v := oauth2.GenerateVerifier()
	resp, page := get(t, b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if resp.StatusCode == 200 {
		resp = consent(t, b, e.srv.URL, page, "approve")
	}
	tok, err := cfg.Exchange(context.Background(), redirected(t, resp).Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// verifyAs checks tok the way a module does: signature against the hub's
// keys, iss, and its own audience.
func verifyAs(t *testing.T, e *env, tok, aud string) *auth.Claims {
	t.Helper()
	c, err := e.store.Verify(context.Background(), tok, auth.VerifyOptions{Issuers: []string{e.srv.URL}, Audiences: []string{aud}})
	if err != nil {
		t.Fatalf("verify as %s: %v", aud, err)
	}
	return c
}

func wantOAuthErr(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Fatalf("got %v, want OAuth error %s", err, code)
	}
}
