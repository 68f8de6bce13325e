package auth

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testIssuer = "http://127.0.0.1:1939"

func TestMintVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := fixedClock(s, time.Now())
	in := Claims{
		Issuer:     testIssuer,
		Subject:    "operator",
		Audience:   "hub",
		ExpiresAt:  now.Add(time.Hour).Unix(),
		IssuedAt:   now.Unix(),
		JTI:        "jti-1",
		Scope:      "parachute:host:admin parachute:host:auth",
		ClientID:   "parachute-hub-spa",
		VaultScope: []string{},
		Extra:      map[string]any{"permissions": map[string]any{"read": true}},
	}
	tok, err := s.Mint(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(ctx, tok, VerifyOptions{Issuers: []string{"https://hub.example", testIssuer + "/"}, Audiences: []string{"hub"}})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if diff := cmp.Diff(&in, got); diff != "" {
		t.Errorf("claims (-minted +verified):\n%s", diff)
	}

	k, err := s.EnsureSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	// Member order is go-jose's; what modules read is the members.
	var h map[string]any
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"alg": "RS256", "typ": "JWT", "kid": k.KID}, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
}

func TestMintDefaults(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := fixedClock(s, time.Now())
	for _, tc := range []struct {
		name string
		c    Claims
	}{
		{"no issuer", Claims{Subject: "a", ExpiresAt: 1}},
		{"no subject", Claims{Issuer: testIssuer, ExpiresAt: 1}},
		{"no expiry", Claims{Issuer: testIssuer, Subject: "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Mint(ctx, tc.c); err == nil {
				t.Error("Mint succeeded, want an error")
			}
		})
	}
	tok, err := s.Mint(ctx, Claims{Issuer: testIssuer, Subject: "a", ExpiresAt: now.Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(ctx, tok, VerifyOptions{Issuers: []string{testIssuer}})
	if err != nil {
		t.Fatal(err)
	}
	if c.IssuedAt != now.Unix() || len(c.JTI) != 22 {
		t.Errorf("iat = %d (want %d), jti = %q (want 16 random bytes base64url)", c.IssuedAt, now.Unix(), c.JTI)
	}
}

func TestVerifyRejects(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := fixedClock(s, time.Now())
	k, err := s.EnsureSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exp := now.Add(time.Hour).Unix()
	mint := func(c Claims) string {
		t.Helper()
		tok, err := s.Mint(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := Claims{Issuer: testIssuer, Subject: "operator", ExpiresAt: exp, Scope: "parachute:host:admin"}
	goodTok := mint(good)
	parts := strings.Split(goodTok, ".")

	// A key this hub never stored.
	other, err := Open(filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, otherPriv, err := other.signer(ctx)
	if err != nil {
		t.Fatal(err)
	}

	revokedTok, revokedClaims, err := s.MintOperator(ctx, testIssuer, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, revokedClaims.JTI); err != nil {
		t.Fatal(err)
	}

	// HS256 signed with the public key as the HMAC secret: the classic
	// algorithm-confusion forgery.
	hsIn := enc(`{"alg":"HS256","typ":"JWT","kid":"`+k.KID+`"}`) + "." + parts[1]
	mac := hmac.New(sha256.New, []byte(k.PublicKeyPEM))
	mac.Write([]byte(hsIn))
	hsTok := hsIn + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	payload := func(c Claims) string {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tampered := good
	tampered.Scope = "parachute:host:admin hub:admin"
	sigBytes, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sigBytes[len(sigBytes)/2] ^= 0x01
	wrongAud := good
	wrongAud.Audience = "vault.default"
	operatorExpired := good
	operatorExpired.Audience = OperatorAudience
	operatorExpired.ExpiresAt = now.Add(-time.Hour).Unix()
	operatorWrongIss := good
	operatorWrongIss.Audience = OperatorAudience
	operatorWrongIss.Issuer = "https://old.example"

	tests := []struct {
		name     string
		token    string
		opts     VerifyOptions
		want     error
		wantText string // substring of the message
	}{
		{"bad signature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sigBytes), VerifyOptions{}, ErrInvalidToken, "bad signature"},
		{"tampered payload", parts[0] + "." + enc(payload(tampered)) + "." + parts[2], VerifyOptions{}, ErrInvalidToken, "bad signature"},
		{"alg none", enc(`{"alg":"none","typ":"JWT","kid":"`+k.KID+`"}`) + "." + parts[1] + ".", VerifyOptions{}, ErrInvalidToken, `algorithm "none"`},
		{"alg HS256 with the public key", hsTok, VerifyOptions{}, ErrInvalidToken, `algorithm "HS256"`},
		{"no kid", signRaw(t, s, `{"alg":"RS256","typ":"JWT"}`, payload(good)), VerifyOptions{}, ErrInvalidToken, "no kid"},
		{"unknown kid", signWith(t, otherPriv, `{"alg":"RS256","kid":"`+KID("other")+`"}`, payload(good)), VerifyOptions{}, ErrInvalidToken, "unknown key"},
		{"kid of this hub, signed by another key", signWith(t, otherPriv, `{"alg":"RS256","kid":"`+k.KID+`"}`, payload(good)), VerifyOptions{}, ErrInvalidToken, "bad signature"},
		{"crit header", signRaw(t, s, `{"alg":"RS256","kid":"`+k.KID+`","crit":["b64"]}`, payload(good)), VerifyOptions{}, ErrInvalidToken, "critical"},
		{"non-canonical base64 (trailing bits) in the header", nonCanonical(parts[0]) + "." + parts[1] + "." + parts[2], VerifyOptions{}, ErrInvalidToken, "not canonical base64url"},
		{"newline inside the payload", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], VerifyOptions{}, ErrInvalidToken, "is not base64url"},
		{"two parts", parts[0] + "." + parts[1], VerifyOptions{}, ErrInvalidToken, "3 dot-separated"},
		{"payload not JSON", signRaw(t, s, `{"alg":"RS256","kid":"`+k.KID+`"}`, `not json`), VerifyOptions{}, ErrInvalidToken, "invalid token: payload:"},
		{"numeric sub", signRaw(t, s, `{"alg":"RS256","kid":"`+k.KID+`"}`, `{"iss":"`+testIssuer+`","sub":7,"exp":4102444800}`), VerifyOptions{}, ErrInvalidToken, `"sub" is not a string`},
		{"expired", mint(Claims{Issuer: testIssuer, Subject: "a", ExpiresAt: now.Add(-time.Minute).Unix()}), VerifyOptions{}, ErrExpired, "token expired at"},
		{"expired operator token says what to run", mint(operatorExpired), VerifyOptions{}, ErrExpired, "operator token expired at " + time.Unix(operatorExpired.ExpiresAt, 0).UTC().Format(time.RFC3339) + " — run `parachute auth rotate-operator`"},
		{"no exp", signRaw(t, s, `{"alg":"RS256","kid":"`+k.KID+`"}`, `{"iss":"`+testIssuer+`","sub":"a"}`), VerifyOptions{}, ErrInvalidToken, "no exp"},
		{"not yet valid", mint(Claims{Issuer: testIssuer, Subject: "a", ExpiresAt: exp, NotBefore: now.Add(time.Minute).Unix()}), VerifyOptions{}, ErrInvalidToken, "not valid before"},
		{"wrong issuer", mint(Claims{Issuer: "https://evil.example", Subject: "a", ExpiresAt: exp}), VerifyOptions{}, ErrBadIssuer, `"https://evil.example" is not one of this hub's origins`},
		{"wrong issuer on an operator token says what to run", mint(operatorWrongIss), VerifyOptions{}, ErrBadIssuer, "rotate-operator"},
		{"no issuers accepted", goodTok, VerifyOptions{Issuers: []string{}}, ErrBadIssuer, "not one of"},
		{"revoked", revokedTok, VerifyOptions{}, ErrRevoked, "operator token " + revokedClaims.JTI + " has been revoked — run `parachute auth rotate-operator`"},
		{"no sub", signRaw(t, s, `{"alg":"RS256","kid":"`+k.KID+`"}`, `{"iss":"`+testIssuer+`","exp":4102444800,"jti":"j"}`), VerifyOptions{}, ErrInvalidToken, "no sub"},
		{"no jti", signRaw(t, s, `{"alg":"RS256","kid":"`+k.KID+`"}`, `{"iss":"`+testIssuer+`","sub":"a","aud":"operator","exp":4102444800}`), VerifyOptions{}, ErrInvalidToken, "no jti claim, so it could never be revoked — run `parachute auth rotate-operator`"},
		{"wrong audience", mint(wrongAud), VerifyOptions{Audiences: []string{"hub"}}, ErrInvalidToken, `audience "vault.default" is not accepted here (want hub)`},
		{"wrong audience among several", mint(wrongAud), VerifyOptions{Audiences: HubAudiences()}, ErrInvalidToken, `(want operator or hub) — use the operator token`},
		{"no audience", mint(Claims{Issuer: testIssuer, Subject: "a", ExpiresAt: exp}), VerifyOptions{Audiences: HubAudiences()}, ErrInvalidToken, "a token without an aud claim is not accepted here"},
		{"audience array without an accepted one", mint(Claims{Issuer: testIssuer, Subject: "a", ExpiresAt: exp, Audiences: []string{"x", "y"}}), VerifyOptions{Audiences: HubAudiences()}, ErrInvalidToken, `audience ["x" "y"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if opts.Issuers == nil {
				opts.Issuers = []string{testIssuer}
			}
			c, err := s.Verify(ctx, tc.token, opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tc.want)
			}
			var te *TokenError
			if !errors.As(err, &te) {
				t.Errorf("error %T is not a *TokenError", err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not contain %q", err, tc.wantText)
			}
		})
	}
}

// nonCanonical re-spells a base64url string ending in a partial group with
// non-zero trailing bits, which a lenient decoder maps to the same bytes.
func nonCanonical(p string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(p)%4 == 0 {
		panic("no partial group to re-spell")
	}
	last := strings.IndexByte(alphabet, p[len(p)-1])
	return p[:len(p)-1] + string(alphabet[last|1])
}

func TestVerifyClockSkew(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := fixedClock(s, time.Now())
	tests := []struct {
		name string
		c    Claims
		at   time.Time
		want error
	}{
		{"expired within skew", Claims{ExpiresAt: now.Unix()}, now.Add(ClockSkew - time.Second), nil},
		{"expired beyond skew", Claims{ExpiresAt: now.Unix()}, now.Add(ClockSkew + time.Second), ErrExpired},
		{"nbf within skew", Claims{ExpiresAt: now.Add(time.Hour).Unix(), NotBefore: now.Add(ClockSkew).Unix()}, now, nil},
		{"nbf beyond skew", Claims{ExpiresAt: now.Add(time.Hour).Unix(), NotBefore: now.Add(ClockSkew + time.Second).Unix()}, now, ErrInvalidToken},
		{"zero Now uses the store clock", Claims{ExpiresAt: now.Add(-time.Hour).Unix()}, time.Time{}, ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Issuer, tc.c.Subject = testIssuer, "a"
			tok, err := s.Mint(ctx, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Verify(ctx, tok, VerifyOptions{Issuers: []string{testIssuer}, Now: tc.at})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Verify err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyAnyIssuer(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tok, _, err := s.MintOperator(ctx, "https://hub.example", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, tok, VerifyOptions{AnyIssuer: true}); err != nil {
		t.Errorf("AnyIssuer: %v", err)
	}
}

// A hub that moved port keeps accepting its own loopback-issued tokens (the
// operator token minted on the old port); a loopback issuer is not accepted
// when no loopback origin is, and a look-alike is never one.
func TestIssuerAcceptedLoopbackAnyPort(t *testing.T) {
	now := []string{"https://hub.example", "http://127.0.0.1:2000", "http://localhost:2000", "http://[::1]:2000"}
	for _, c := range []struct {
		iss      string
		accepted []string
		want     bool
	}{
		{"http://127.0.0.1:1939", now, true},
		{"http://localhost:1939/", now, true},
		{"http://[::1]:1939", now, true},
		{"https://hub.example", now, true},
		{"https://other.example", now, false},
		{"http://127.0.0.1:1939", []string{"https://hub.example"}, false},
		{"http://127.0.0.1.evil.example:1939", now, false},
		{"http://127.0.0.1:1939/path", now, false},
		{"https://127.0.0.1:1939", now, false},
		{"http://127.0.0.1:", now, false},
		{"http://127.0.0.1:123456", now, false},
		{"", now, false},
	} {
		if got := issuerAccepted(c.iss, c.accepted); got != c.want {
			t.Errorf("issuerAccepted(%q, %q) = %v, want %v", c.iss, c.accepted, got, c.want)
		}
	}
}

func TestHasScope(t *testing.T) {
	c := Claims{Scope: "vault:admin  parachute:host:admin scribe:admin"}
	tests := []struct {
		scope string
		want  bool
	}{
		{"parachute:host:admin", true},
		{"scribe:admin", true},
		{"parachute:host", false},
		{"parachute:host:admin scribe:admin", false},
		{"admin", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.scope, func(t *testing.T) {
			if got := c.HasScope(tc.scope); got != tc.want {
				t.Errorf("HasScope(%q) = %v, want %v", tc.scope, got, tc.want)
			}
		})
	}
}

func TestClaimsAudienceArray(t *testing.T) {
	var c Claims
	if err := json.Unmarshal([]byte(`{"aud":["vault.default","hub"],"sub":"x","exp":1.7e9}`), &c); err != nil {
		t.Fatal(err)
	}
	want := Claims{Audience: "vault.default", Audiences: []string{"vault.default", "hub"}, Subject: "x", ExpiresAt: 1700000000}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if !c.HasAudience("hub") || c.HasAudience("operator") {
		t.Errorf("HasAudience wrong for %v", c.Audiences)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(b, &back)
	if diff := cmp.Diff([]any{"vault.default", "hub"}, back["aud"]); diff != "" {
		t.Errorf("aud re-encoded (-want +got):\n%s", diff)
	}
}

func TestJWKSVerifiesWithStdlib(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	// Later than the template key's creation, so "newest" is unambiguous.
	now := fixedClock(s, time.Now().Add(time.Minute))
	old, err := s.EnsureSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Mint(ctx, Claims{Issuer: testIssuer, Subject: "a", ExpiresAt: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}

	set, err := s.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	if diff := cmp.Diff([]string{cur.KID, old.KID}, kids); diff != "" {
		t.Errorf("JWKS kids (-want +got):\n%s", diff)
	}

	// Shape, as JSON.
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	jwk := doc.Keys[1]
	for k, want := range map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "e": "AQAB", "kid": old.KID} {
		if jwk[k] != want {
			t.Errorf("jwk[%q] = %q, want %q", k, jwk[k], want)
		}
	}
	if len(jwk) != 6 {
		t.Errorf("jwk has keys %v, want exactly kty n e kid alg use", jwk)
	}

	// A module holding only the JWKS verifies the token with the stdlib.
	n, err := base64.RawURLEncoding.DecodeString(jwk["n"])
	if err != nil {
		t.Fatal(err)
	}
	e, err := base64.RawURLEncoding.DecodeString(jwk["e"])
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	parts := strings.Split(tok, ".")
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("stdlib verification with the JWKS key: %v", err)
	}

	// A day later the retired key leaves the set.
	fixedClock(s, now.Add(KeyRetention+time.Second))
	set, err = s.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0].KeyID != cur.KID {
		t.Errorf("JWKS after retention = %+v, want only %s", set.Keys, cur.KID)
	}
}

func TestJWKSEmpty(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	set, err := s.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(set)
	if string(b) != `{"keys":[]}` {
		t.Errorf("empty JWKS = %s", b)
	}
}

func TestSecretEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"abc", "abc", true}, {"abc", "abd", false}, {"abc", "ab", false}, {"", "", true}} {
		if got := SecretEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("SecretEqual(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// A jti goes on command lines (`auth revoke-token <jti>`): it must never
// start with '-', which would read as a flag. 2000 draws: with the plain
// base64url encoding about 31 of them would.
func TestNewJTINeverLooksLikeAFlag(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		j := NewJTI()
		if len(j) != 22 || j[0] == '-' || seen[j] {
			t.Fatalf("NewJTI() = %q (len %d, seen before %v)", j, len(j), seen[j])
		}
		seen[j] = true
	}
}
