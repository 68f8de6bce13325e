package auth

import (
	"context"
	"errors"
	"testing"
)

// ListTokens filters and pages the registry on real sqlite; TokenScopes
// and RevokeAt read and revoke one row.
func TestListTokensAndRevokeAt(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var jtis []string
	for i := range TokenPageSize + 2 {
		sub := "a"
		if i%2 == 1 {
			sub = "b"
		}
		_, c, err := s.MintToken(ctx, MintRequest{Issuer: "http://127.0.0.1:1939", Subject: sub, Scopes: []string{"vault:default:read"}})
		if err != nil {
			t.Fatal(err)
		}
		jtis = append(jtis, c.JTI)
	}
	page, next, err := s.ListTokens(ctx, TokenFilter{})
	if err != nil || len(page) != TokenPageSize || next == "" {
		t.Fatalf("page 1: %d rows, next %q, %v", len(page), next, err)
	}
	rest, next2, err := s.ListTokens(ctx, TokenFilter{Cursor: next})
	if err != nil || len(rest) != 2 || next2 != "" {
		t.Fatalf("page 2: %d rows, next %q, %v", len(rest), next2, err)
	}
	if bs, _, _ := s.ListTokens(ctx, TokenFilter{Subject: "b"}); len(bs) != (TokenPageSize+2)/2 {
		t.Errorf("subject b: %d rows", len(bs))
	}
	seen := map[string]bool{}
	for _, r := range append(page, rest...) {
		if seen[r.JTI] || len(r.Scopes) != 1 || r.Scopes[0] != "vault:default:read" {
			t.Errorf("row %+v repeated or with the wrong scopes", r)
		}
		seen[r.JTI] = true
	}
	if _, _, err := s.ListTokens(ctx, TokenFilter{Cursor: "not base64!"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("a foreign cursor: %v, want ErrBadCursor", err)
	}
	if sc, err := s.TokenScopes(ctx, jtis[0]); err != nil || len(sc) != 1 || sc[0] != "vault:default:read" {
		t.Errorf("TokenScopes = %v, %v", sc, err)
	}
	if _, err := s.TokenScopes(ctx, "nope"); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("TokenScopes(unknown) = %v, want ErrUnknownToken", err)
	}
	at, err := s.RevokeAt(ctx, jtis[0])
	if err != nil || at.IsZero() {
		t.Fatalf("RevokeAt = %v, %v", at, err)
	}
	again, err := s.RevokeAt(ctx, jtis[0])
	if err != nil || !again.Equal(at) {
		t.Errorf("second RevokeAt = %v, %v; want the first time %v", again, err, at)
	}
	rev, _, _ := s.ListTokens(ctx, TokenFilter{Revoked: "true"})
	live, _, _ := s.ListTokens(ctx, TokenFilter{Revoked: "false", CreatedVia: CreatedViaCLIMint})
	if len(rev) != 1 || rev[0].JTI != jtis[0] || rev[0].RevokedAt == nil || len(live) != TokenPageSize {
		t.Errorf("revoked %d (%v), live %d", len(rev), rev, len(live))
	}
	if _, err := s.RevokeAt(ctx, "nope"); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("RevokeAt(unknown) = %v, want ErrUnknownToken", err)
	}
}
