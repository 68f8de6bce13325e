package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The verified-signature cache must never let a token through that a
// fresh verification would refuse: each case verifies a token once (so it
// is cached), changes one thing, and expects the same answer as a store
// that has never seen the token.
func TestVerifyCacheRechecksEverything(t *testing.T) {
	ctx := context.Background()
	opts := VerifyOptions{Issuers: []string{goldenIssuer}, Audiences: HubAudiences()}
	mint := func(t *testing.T, s *Store) string {
		t.Helper()
		tok, err := s.Mint(ctx, Claims{Issuer: goldenIssuer, Subject: "s", Audience: OperatorAudience,
			ExpiresAt: goldenNow.Add(time.Hour).Unix(), Scope: "parachute:host:admin"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, tok, opts); err != nil {
			t.Fatalf("first verification: %v", err)
		}
		if s.verified.len() == 0 {
			t.Fatal("a verified token was not cached")
		}
		return tok
	}
	cases := []struct {
		name string
		// change returns the options of the second verification.
		change func(t *testing.T, s *Store, tok string) VerifyOptions
		want   error
	}{
		{"revoked by another process", func(t *testing.T, s *Store, tok string) VerifyOptions {
			// A second Store on the same file stands in for the CLI's
			// `auth revoke-token`, which writes hub.db directly.
			other, err := Open(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			fixedClock(other, goldenNow)
			c, err := other.Verify(ctx, tok, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := other.revokeVerified(ctx, c); err != nil {
				t.Fatal(err)
			}
			return opts
		}, ErrRevoked},
		{"expired since", func(t *testing.T, s *Store, tok string) VerifyOptions {
			o := opts
			o.Now = goldenNow.Add(2 * time.Hour)
			return o
		}, ErrExpired},
		{"issuer no longer accepted", func(t *testing.T, s *Store, tok string) VerifyOptions {
			o := opts
			o.Issuers = []string{"https://elsewhere.example"}
			return o
		}, ErrBadIssuer},
		{"audience not accepted here", func(t *testing.T, s *Store, tok string) VerifyOptions {
			o := opts
			o.Audiences = []string{"vault.default"}
			return o
		}, ErrInvalidToken},
		{"signing key deleted", func(t *testing.T, s *Store, tok string) VerifyOptions {
			s.keyRecheck = 0 // as once keyRecheck has passed (another process deleted it)
			if _, err := s.db.ExecContext(ctx, `DELETE FROM signing_keys`); err != nil {
				t.Fatal(err)
			}
			return opts
		}, ErrInvalidToken},
		// In this process: RotateSigningKey drops the key-row cache.
		{"signing key retired past retention", func(t *testing.T, s *Store, tok string) VerifyOptions {
			if _, err := s.RotateSigningKey(ctx); err != nil {
				t.Fatal(err)
			}
			o := opts
			o.Now = goldenNow.Add(KeyRetention + time.Second)
			return o
		}, ErrInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := goldenStore(t)
			tok := mint(t, s)
			o := tc.change(t, s, tok)
			if _, err := s.Verify(ctx, tok, o); !errors.Is(err, tc.want) {
				t.Errorf("second verification: err = %v, want %v", err, tc.want)
			}
		})
	}
}

// Claims handed out for a cached token are the caller's to change.
func TestVerifyCacheReturnsCopies(t *testing.T) {
	ctx := context.Background()
	s, _ := goldenStore(t)
	tok, err := s.Mint(ctx, Claims{Issuer: goldenIssuer, Subject: "s", Audiences: []string{OperatorAudience, "x"},
		ExpiresAt: goldenNow.Add(time.Hour).Unix(), Scope: "a b", VaultScope: []string{"v"}})
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Issuers: []string{goldenIssuer}}
	for i := range 3 {
		c, err := s.Verify(ctx, tok, opts)
		if err != nil {
			t.Fatal(err)
		}
		if c.Audiences[0] != OperatorAudience || c.VaultScope[0] != "v" || c.Scope != "a b" {
			t.Fatalf("verification %d: claims changed by a caller: %+v", i, c)
		}
		c.Audiences[0], c.VaultScope[0], c.Scope = "evil", "evil", "evil"
	}
}

// The cache holds at most verifiedCacheSize tokens however many distinct
// valid ones are presented, and never a token that failed.
func TestVerifyCacheBounded(t *testing.T) {
	ctx := context.Background()
	s, _ := goldenStore(t)
	opts := VerifyOptions{Issuers: []string{goldenIssuer}}
	for i := range verifiedCacheSize + 40 {
		tok, err := s.Mint(ctx, Claims{Issuer: goldenIssuer, Subject: fmt.Sprint("s", i), ExpiresAt: goldenNow.Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, tok, opts); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.verified.len(); n != verifiedCacheSize {
		t.Errorf("cache holds %d tokens, want the bound %d", n, verifiedCacheSize)
	}
	s.verified = verifiedCache{}
	bad := signRaw(t, s, `{"alg":"RS256","typ":"JWT","kid":"nope"}`, `{"iss":"`+goldenIssuer+`","sub":"s","exp":1}`)
	for _, tok := range []string{bad, bad[:len(bad)-2] + "AA", strings.Repeat("x", 40)} {
		if _, err := s.Verify(ctx, tok, opts); err == nil {
			t.Fatalf("Verify(%q) succeeded", tok)
		}
	}
	if n := s.verified.len(); n != 0 {
		t.Errorf("cache holds %d refused tokens", n)
	}
}

// A bearer the hub has seen before is verified without re-parsing it or
// re-checking its RSA signature: every API request carries the same
// operator or access token, and the full verification cost about 60 µs
// and 200 allocations per request (issue 10 benchmark). What is left is
// the revocation lookup, the claim checks and, once per keyRecheck, the
// key's row.
func TestVerifyRepeatIsCheap(t *testing.T) {
	ctx := context.Background()
	s, _ := goldenStore(t)
	tok, err := s.Mint(ctx, Claims{Issuer: goldenIssuer, Subject: "s", Audience: OperatorAudience,
		ExpiresAt: goldenNow.Add(time.Hour).Unix(), Scope: "parachute:host:admin"})
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Issuers: []string{goldenIssuer}, Audiences: HubAudiences()}
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := s.Verify(ctx, tok, opts); err != nil {
			t.Fatal(err)
		}
	})
	// Measured: 202 allocations for a full verification, 50 for a repeat
	// that re-reads the key's row, 22 for one that does not.
	if allocs > 40 {
		t.Errorf("a repeated verification makes %.0f allocations, want at most 40 (are the signature or the key row re-read every time?)", allocs)
	}
}
