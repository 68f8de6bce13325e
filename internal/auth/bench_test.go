package auth

import (
	"context"
	"testing"
	"time"
)

// BenchmarkVerify is one bearer verification: "first" is a token the
// store has not seen (parse, key lookup, RS256 signature, claim checks,
// revocation lookup), "repeat" the same token again, as on every API
// request after the first (verifycache.go: claim checks, revocation
// lookup, and the key's row once per keyRecheck).
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	s, _ := goldenStore(b)
	tok, err := s.Mint(ctx, Claims{Issuer: goldenIssuer, Subject: "s", Audience: OperatorAudience,
		ExpiresAt: goldenNow.Add(time.Hour).Unix(), Scope: "parachute:host:admin"})
	if err != nil {
		b.Fatal(err)
	}
	opts := VerifyOptions{Issuers: []string{goldenIssuer}, Audiences: HubAudiences()}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.verified.mu.Lock()
			clear(s.verified.m)
			s.verified.mu.Unlock()
			s.forgetKeyRows()
			if _, err := s.Verify(ctx, tok, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("repeat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Verify(ctx, tok, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMint is one token signature with the active key.
func BenchmarkMint(b *testing.B) {
	ctx := context.Background()
	s, _ := goldenStore(b)
	c := Claims{Issuer: goldenIssuer, Subject: "s", ExpiresAt: goldenNow.Add(time.Hour).Unix(), Scope: "vault:default:read"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Mint(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
