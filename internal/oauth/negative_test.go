package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/ratelimit"
	"golang.org/x/oauth2"
)

// TestAuthorizeRefusals: requests the authorize step must refuse, and how
// (a page for anything before the redirect_uri is trusted, an error
// redirect after).
func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t)
	client := e.publicClient("")
	pending := func() string {
		_, out := e.register(map[string]any{"redirect_uris": []string{testCallback}}, "")
		return out["client_id"].(string)
	}()
	ch := s256(oauth2.GenerateVerifier())
	base := url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {testCallback},
		"state": {"x"}, "scope": {"vault:default:read"}, "code_challenge": {ch}, "code_challenge_method": {"S256"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = append([]string(nil), vs...)
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	cases := []struct {
		name      string
		user      string // "admin", "friend" or "" (signed out)
		q         url.Values
		status    int    // page status, or 302
		wantError string // the callback's error for 302
		wantLoc   string // a Location prefix otherwise
	}{
		{"plain PKCE", "admin", with("code_challenge_method", "plain"), 302, "invalid_request", ""},
		{"no PKCE", "admin", with("code_challenge", "", "code_challenge_method", ""), 302, "invalid_request", ""},
		{"host scope", "admin", with("scope", "vault:default:read parachute:host:admin"), 302, "invalid_scope", ""},
		{"undeclared scope", "admin", with("scope", "weather:read"), 302, "invalid_scope", ""},
		{"friend escalates to another vault", "friend", with("scope", "vault:work:read"), 302, "invalid_scope", ""},
		{"friend escalates to write", "friend", with("scope", "vault:default:write"), 302, "invalid_scope", ""},
		{"friend asks for hub:admin", "friend", with("scope", "hub:admin"), 302, "invalid_scope", ""},
		{"resource elsewhere", "admin", with("resource", "https://evil.example/vault/default"), 302, "invalid_target", ""},
		{"mismatched redirect_uri", "admin", with("redirect_uri", "http://127.0.0.1:9/other"), 400, "", ""},
		{"unknown client", "admin", with("client_id", "nope"), 400, "", ""},
		{"signed out", "", base, 302, "", "/login?next=%2Foauth%2Fauthorize%3F"},
		{"pending client, signed out", "", with("client_id", pending), 403, "", ""},
		{"pending client, friend", "friend", with("client_id", pending), 403, "", ""},
		{"response_type token", "admin", with("response_type", "token"), 302, "unsupported_response_type", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uid := map[string]string{"admin": e.adminID, "friend": e.friendID}[tc.user]
			resp, body := get(t, e.browser(uid), e.srv.URL+"/oauth/authorize?"+tc.q.Encode())
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			loc := resp.Header.Get("Location")
			switch {
			case tc.wantError != "":
				if got := redirected(t, resp).Get("error"); got != tc.wantError {
					t.Errorf("error %q, want %q (%s)", got, tc.wantError, loc)
				}
			case tc.wantLoc != "":
				if !strings.HasPrefix(loc, tc.wantLoc) {
					t.Errorf("Location %q, want prefix %q", loc, tc.wantLoc)
				}
			case resp.StatusCode == 302:
				t.Errorf("unexpected redirect to %q", loc)
			}
		})
	}
}

// TestFriendCapped: a friend's broad vault:read is narrowed to the vault
// they hold, and the token is pinned to it.
func TestFriendCapped(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(e.publicClient(""), "vault:read vault:write")
	tok := authorizeAndExchange(t, e, e.browser(e.friendID), cfg)
	if got := tok.Extra("scope"); got != "vault:default:read" {
		t.Fatalf("friend's scope %v, want vault:default:read", got)
	}
	c := verifyAs(t, e, tok.AccessToken, "vault.default")
	if len(c.VaultScope) != 1 || c.VaultScope[0] != "default" {
		t.Errorf("vault_scope %v, want [default]", c.VaultScope)
	}
}

// TestTokenRefusals: the token endpoint's refusals.
func TestTokenRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := e.config(e.publicClient(""), "vault:default:read")
	b := e.browser(e.adminID)
	codeFor := func(v string) string {
		resp, page := get(t, b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
		if resp.StatusCode == 200 {
			resp = consent(t, b, e.srv.URL, page, "approve")
		}
		return redirected(t, resp).Get("code")
	}

	t.Run("wrong verifier burns the code", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := codeFor(v)
		_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		wantOAuthErr(t, err, "invalid_grant")
		_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
		wantOAuthErr(t, err, "invalid_grant")
	})
	t.Run("reused code", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := codeFor(v)
		if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Fatal(err)
		}
		_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
		wantOAuthErr(t, err, "invalid_grant")
	})
	t.Run("mismatched redirect_uri", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := codeFor(v)
		other := *cfg
		other.RedirectURL = testCallback + "/x"
		_, err := other.Exchange(ctx, code, oauth2.VerifierOption(v))
		wantOAuthErr(t, err, "invalid_grant")
	})
	t.Run("missing verifier", func(t *testing.T) {
		_, err := cfg.Exchange(ctx, codeFor(oauth2.GenerateVerifier()))
		wantOAuthErr(t, err, "invalid_request")
	})
	t.Run("expired code", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := codeFor(v)
		e.clock.Add(CodeTTL + time.Second)
		defer e.clock.Add(-CodeTTL - time.Second)
		_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(v))
		wantOAuthErr(t, err, "invalid_grant")
	})
	t.Run("expired refresh token", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		tok, err := cfg.Exchange(ctx, codeFor(v), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(RefreshTTL + time.Second)
		defer e.clock.Add(-RefreshTTL - time.Second)
		_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		wantOAuthErr(t, err, "invalid_grant")
	})
	t.Run("refresh token of another client", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		tok, err := cfg.Exchange(ctx, codeFor(v), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		other := e.config(e.publicClient(""), "vault:default:read")
		_, err = other.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		wantOAuthErr(t, err, "invalid_grant")
	})
	t.Run("pending client", func(t *testing.T) {
		_, out := e.register(map[string]any{"redirect_uris": []string{testCallback}}, "")
		p := e.config(out["client_id"].(string), "vault:default:read")
		_, err := p.Exchange(ctx, "whatever", oauth2.VerifierOption(oauth2.GenerateVerifier()))
		wantOAuthErr(t, err, "invalid_client")
	})
	t.Run("unsupported grant", func(t *testing.T) {
		resp, err := http.PostForm(e.srv.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {cfg.ClientID}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body oauthErr
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != 400 || body.Error != "unsupported_grant_type" {
			t.Errorf("%d %+v", resp.StatusCode, body)
		}
	})
}

// TestConfidentialClient: a client_secret_post client gets its secret
// once, stored hashed, and must present it (post or Basic).
func TestConfidentialClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok, _, err := e.store.MintOperator(ctx, e.srv.URL, "admin")
	if err != nil {
		t.Fatal(err)
	}
	code, out := e.register(map[string]any{"redirect_uris": []string{testCallback},
		"token_endpoint_auth_method": "client_secret_post"}, tok)
	secret, _ := out["client_secret"].(string)
	if code != 201 || secret == "" || out["status"] != "approved" || out["same_hub"] != true {
		t.Fatalf("register: %d %v", code, out)
	}
	var stored string
	if err := e.store.DB().QueryRow(`SELECT client_secret_hash FROM clients WHERE client_id = ?`, out["client_id"]).Scan(&stored); err != nil || stored != hubdb.HashSecret(secret) {
		t.Fatalf("stored secret %q (%v), want its SHA-256", stored, err)
	}
	for _, tc := range []struct {
		name   string
		style  oauth2.AuthStyle
		secret string
		want   string
	}{
		{"post, right secret", oauth2.AuthStyleInParams, secret, ""},
		{"basic, right secret", oauth2.AuthStyleInHeader, secret, ""},
		{"post, wrong secret", oauth2.AuthStyleInParams, "nope", "invalid_client"},
		{"basic, wrong secret", oauth2.AuthStyleInHeader, "nope", "invalid_client"},
		{"no secret", oauth2.AuthStyleInParams, "", "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.config(out["client_id"].(string), "vault:default:read")
			cfg.ClientSecret, cfg.Endpoint.AuthStyle = tc.secret, tc.style
			v := oauth2.GenerateVerifier()
			resp, _ := get(t, e.browser(e.adminID), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
			_, err := cfg.Exchange(ctx, redirected(t, resp).Get("code"), oauth2.VerifierOption(v))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantOAuthErr(t, err, tc.want)
		})
	}
}

// TestRegisterRules: DCR validation and who gets approved.
func TestRegisterRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	readOnly, _, err := e.store.MintOperator(ctx, e.srv.URL, "start")
	if err != nil {
		t.Fatal(err)
	}
	cb := []string{testCallback}
	cases := []struct {
		name   string
		body   map[string]any
		bearer string
		status int
		field  string // a response field to check
		want   any
	}{
		{"no redirect_uris", map[string]any{}, "", 400, "error", "invalid_redirect_uri"},
		{"javascript redirect", map[string]any{"redirect_uris": []string{"javascript:alert(1)"}}, "", 400, "error", "invalid_redirect_uri"},
		{"fragment", map[string]any{"redirect_uris": []string{testCallback + "#x"}}, "", 400, "error", "invalid_redirect_uri"},
		{"host scope", map[string]any{"redirect_uris": cb, "scope": "parachute:host:auth"}, "", 400, "error", "invalid_client_metadata"},
		{"anonymous is pending", map[string]any{"redirect_uris": cb}, "", 201, "status", "pending"},
		{"bearer without hub:admin", map[string]any{"redirect_uris": cb}, readOnly, 403, "error", "insufficient_scope"},
		{"garbage bearer", map[string]any{"redirect_uris": cb}, "garbage", 401, "error", "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := e.register(tc.body, tc.bearer)
			if code != tc.status || out[tc.field] != tc.want {
				t.Errorf("%d %v, want %d with %s=%v", code, out, tc.status, tc.field, tc.want)
			}
		})
	}
	t.Run("session without a same-origin header stays pending", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/register", strings.NewReader(`{"redirect_uris":["`+testCallback+`"]}`))
		resp, err := e.browser(e.adminID).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if out["status"] != "pending" {
			t.Errorf("status %v, want pending (no Origin or Referer is not same-origin)", out["status"])
		}
	})
	t.Run("session with same Origin is approved", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/register", strings.NewReader(`{"redirect_uris":["`+testCallback+`"]}`))
		req.Header.Set("Origin", e.srv.URL)
		resp, err := e.browser(e.adminID).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if out["status"] != "approved" || out["same_hub"] != true {
			t.Errorf("%v, want approved same_hub", out)
		}
	})
	t.Run("wizard window approves exactly one", func(t *testing.T) {
		until := e.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
		if _, err := e.store.DB().Exec(`INSERT INTO hub_settings (key, value, updated_at) VALUES (?, ?, ?)`, autoApproveKey, until, until); err != nil {
			t.Fatal(err)
		}
		_, first := e.register(map[string]any{"redirect_uris": cb}, "")
		_, second := e.register(map[string]any{"redirect_uris": cb}, "")
		if first["status"] != "approved" || first["same_hub"] != false || second["status"] != "pending" {
			t.Errorf("first %v, second %v", first["status"], second["status"])
		}
	})
	for _, tc := range []struct{ name, value string }{
		{"expired window", e.clock.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)},
		{"malformed window", "not-a-date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.store.DB().Exec(`INSERT OR REPLACE INTO hub_settings (key, value, updated_at) VALUES (?, ?, ?)`, autoApproveKey, tc.value, tc.value); err != nil {
				t.Fatal(err)
			}
			if _, out := e.register(map[string]any{"redirect_uris": cb}, ""); out["status"] != "pending" {
				t.Errorf("status %v, want pending", out["status"])
			}
		})
	}
}

// TestRevokeNoOracle: revoke answers 200 for unknown tokens and for
// another client's token, which stays live.
func TestRevokeNoOracle(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(e.publicClient(""), "vault:default:read")
	tok := authorizeAndExchange(t, e, e.browser(e.adminID), cfg)
	other := e.publicClient("")
	for _, tc := range []struct{ name, token, client string }{
		{"unknown token", "not-a-token", cfg.ClientID},
		{"another client's token", tok.RefreshToken, other},
		{"another client's access token", tok.AccessToken, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.PostForm(e.srv.URL+"/oauth/revoke", url.Values{"token": {tc.token}, "client_id": {tc.client}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status %d, want 200", resp.StatusCode)
			}
		})
	}
	verifyAs(t, e, tok.AccessToken, "vault.default")
}

// TestRateLimits: per-client limits on DCR and the token endpoint; a
// forwarding header from an untrusted peer does not buy a fresh bucket.
func TestRateLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.RegisterLimit = &ratelimit.Config{Burst: 2, Per: time.Hour}
		o.TokenLimit = &ratelimit.Config{Burst: 1, Per: time.Hour}
	})
	for i, want := range []int{201, 201, 429} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/register", strings.NewReader(`{"redirect_uris":["`+testCallback+`"]}`))
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("registration %d: %d, want %d", i, resp.StatusCode, want)
		}
		if want == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	for i, want := range []int{400, 429} {
		resp, err := http.PostForm(e.srv.URL+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"x"}, "refresh_token": {"guess"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want && !(want == 400 && resp.StatusCode == 401) {
			t.Fatalf("token attempt %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
}

// TestConsentSkipping: a same_hub client skips consent for non-admin
// scopes only; an admin scope always asks.
func TestConsentSkipping(t *testing.T) {
	e := newEnv(t)
	client := e.publicClient("")
	b := e.browser(e.adminID)
	for _, tc := range []struct {
		scope   string
		consent bool
	}{
		{"vault:default:read scribe:transcribe", false},
		{"vault:default:admin", true},
		{"hub:admin", true},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			cfg := e.config(client, tc.scope)
			resp, page := get(t, b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if shown := resp.StatusCode == 200 && strings.Contains(page, `name="decision"`); shown != tc.consent {
				t.Errorf("consent shown = %v (%d), want %v", shown, resp.StatusCode, tc.consent)
			}
		})
	}
}

// TestDeletedUserRefresh: a refresh for an account deleted since is
// invalid_grant, not a server error.
func TestDeletedUserRefresh(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(e.publicClient(""), "vault:default:read")
	tok := authorizeAndExchange(t, e, e.browser(e.friendID), cfg)
	// Delete revokes the tokens and clears their user_id; even un-revoked,
	// the row no longer names a user.
	if err := e.users.Delete(context.Background(), e.friendID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.DB().Exec(`UPDATE tokens SET revoked_at = NULL`); err != nil {
		t.Fatal(err)
	}
	_, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	wantOAuthErr(t, err, "invalid_grant")
}
