package oauth

import (
	"context"
	"testing"

	"golang.org/x/oauth2"
)

// TestResourceNarrowsToOneVault: an RFC 8707 resource naming a vault mount
// turns an unnamed vault:<verb> into vault:<name>:<verb>, drops other
// vaults' scopes, keeps the rest, and the token's aud follows the vault
// (reference server.md §3e); the hub itself as the resource narrows nothing.
func TestResourceNarrowsToOneVault(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.publicClient("vault:read vault:write vault:other:read scribe:transcribe")
	for _, tc := range []struct {
		name, resource, scope string
		wantScope, wantAud    string
	}{
		{"vault mount", e.srv.URL + "/vault/default", "vault:read scribe:transcribe",
			"vault:default:read scribe:transcribe", "vault.default"},
		{"vault MCP path, trailing slash", e.srv.URL + "/vault/default/mcp/", "vault:write",
			"vault:default:write", "vault.default"},
		{"another vault's scope goes", e.srv.URL + "/vault/default", "vault:read vault:other:read",
			"vault:default:read", "vault.default"},
		{"the hub narrows nothing", e.srv.URL, "scribe:transcribe",
			"scribe:transcribe", "scribe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.config(id, tc.scope)
			v := oauth2.GenerateVerifier()
			resp, _ := get(t, e.browser(e.adminID), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v),
				oauth2.SetAuthURLParam("resource", tc.resource)))
			q := redirected(t, resp)
			if q.Get("code") == "" {
				t.Fatalf("authorize: %v, want a code (operator client, no admin scope: no consent)", q)
			}
			tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if got := tok.Extra("scope"); got != tc.wantScope {
				t.Errorf("scope %q, want %q", got, tc.wantScope)
			}
			verifyAs(t, e, tok.AccessToken, tc.wantAud)
		})
	}
}
