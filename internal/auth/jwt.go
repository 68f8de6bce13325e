package auth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ClockSkew is the leeway applied to exp and nbf, so a token minted by a
// process whose clock runs slightly ahead still verifies.
const ClockSkew = 30 * time.Second

// maxTokenLen bounds what Verify will parse; hub tokens are about 1 KiB.
const maxTokenLen = 16 << 10

// Sentinel errors Verify wraps; callers branch on them with errors.Is.
var (
	// ErrInvalidToken: malformed, wrong algorithm, unknown or expired key,
	// bad signature, not yet valid, missing sub or jti, wrong audience.
	ErrInvalidToken = errors.New("invalid token")
	// ErrExpired: exp is in the past (beyond ClockSkew).
	ErrExpired = errors.New("token expired")
	// ErrBadIssuer: iss is not one of the accepted issuers.
	ErrBadIssuer = errors.New("token issuer not accepted")
	// ErrRevoked: the jti is revoked in the token registry.
	ErrRevoked = errors.New("token revoked")
)

// rotateHint tells an operator how to get a working token.
const rotateHint = "run `parachute auth rotate-operator` to mint a new one"

// TokenError is the error Verify returns: a sentinel (Kind) plus what was
// wrong and, where there is one, what to run.
type TokenError struct {
	Kind   error  // one of the Err* sentinels
	Detail string // what was wrong, e.g. "operator token expired at ..."
	Hint   string // what to do, e.g. "run `parachute auth rotate-operator` ..."
}

func (e *TokenError) Error() string {
	if e.Hint == "" {
		return e.Detail
	}
	return e.Detail + " — " + e.Hint
}

// Unwrap returns the sentinel.
func (e *TokenError) Unwrap() error { return e.Kind }

func invalid(format string, args ...any) *TokenError {
	return &TokenError{Kind: ErrInvalidToken, Detail: "invalid token: " + fmt.Sprintf(format, args...)}
}

// VerifyOptions says what Verify accepts beyond a valid signature.
type VerifyOptions struct {
	// Issuers are the accepted iss values (compared without a trailing
	// slash). The hub passes every origin it answers on (loopback plus the
	// configured public origin) so a change of public origin cannot lock
	// the CLI out. Empty rejects every token unless AnyIssuer is set.
	Issuers []string
	// AnyIssuer skips the iss check; for callers that only need to know a
	// token is this hub's (e.g. deciding whether to re-mint it).
	AnyIssuer bool
	// Audiences, when non-empty, are the accepted aud values: the aud claim
	// (or one of its elements) must be one of them. Hub endpoints pass
	// HubAudiences().
	Audiences []string
	// Now is the verification time; zero means the store's clock.
	Now time.Time
}

// header is the JOSE header. Field order gives {"alg","typ","kid"}.
type header struct {
	Alg  string   `json:"alg"`
	Typ  string   `json:"typ,omitempty"`
	Kid  string   `json:"kid,omitempty"`
	Crit []string `json:"crit,omitempty"`
}

// NewJTI returns a fresh token id: 16 random bytes, base64url.
func NewJTI() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: since Go 1.24 it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// SecretEqual compares two secrets in constant time (for their common
// length), so response timing does not reveal how much of a guess matched.
func SecretEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Mint signs c with the active signing key (creating one if the database
// has none) and returns the compact JWT. iat defaults to now and jti to a
// fresh NewJTI; callers that need the jti set it first. Issuer, Subject and
// ExpiresAt are required: a token without them could never verify, or
// would never expire.
func (s *Store) Mint(ctx context.Context, c Claims) (string, error) {
	switch {
	case c.Issuer == "":
		return "", errors.New("minting token: no issuer")
	case c.Subject == "":
		return "", errors.New("minting token: no subject")
	case c.ExpiresAt == 0:
		return "", errors.New("minting token: no expiry")
	}
	if c.IssuedAt == 0 {
		c.IssuedAt = s.now().Unix()
	}
	if c.JTI == "" {
		c.JTI = NewJTI()
	}
	kid, priv, err := s.signer(ctx)
	if err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	h, err := json.Marshal(header{Alg: Algorithm, Typ: "JWT", Kid: kid})
	if err != nil {
		return "", fmt.Errorf("minting token: encoding header: %w", err)
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("minting token: encoding claims: %w", err)
	}
	signing := b64(h) + "." + b64(p)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("minting token: signing: %w", err)
	}
	return signing + "." + b64(sig), nil
}

// Verify checks a hub token and returns its claims. In order: the header
// names RS256 and a kid that is active or retired less than KeyRetention
// ago; the signature verifies; exp and nbf hold (with ClockSkew); iss is
// accepted; a jti is present and not revoked in the registry; sub is
// non-empty; and the audience is accepted when Audiences is set. Failures are *TokenError
// wrapping ErrInvalidToken, ErrExpired, ErrBadIssuer or ErrRevoked; other
// errors mean the database could not be read.
func (s *Store) Verify(ctx context.Context, token string, opts VerifyOptions) (*Claims, error) {
	now := opts.Now
	if now.IsZero() {
		now = s.now()
	}
	c, err := s.parseSigned(ctx, token, now)
	if err != nil {
		return nil, err
	}
	operator := c.HasAudience(OperatorAudience)
	what := "token"
	if operator {
		what = "operator token"
	}
	hintIf := func(ok bool) string {
		if ok {
			return rotateHint
		}
		return ""
	}

	if c.ExpiresAt == 0 {
		return nil, invalid("no exp claim")
	}
	if now.Unix() > c.ExpiresAt+int64(ClockSkew/time.Second) {
		return nil, &TokenError{Kind: ErrExpired,
			Detail: fmt.Sprintf("%s expired at %s", what, c.Expiry().UTC().Format(time.RFC3339)),
			Hint:   hintIf(operator)}
	}
	if c.NotBefore != 0 && now.Unix()+int64(ClockSkew/time.Second) < c.NotBefore {
		return nil, invalid("not valid before %s", time.Unix(c.NotBefore, 0).UTC().Format(time.RFC3339))
	}
	if !opts.AnyIssuer && !issuerAccepted(c.Issuer, opts.Issuers) {
		return nil, &TokenError{Kind: ErrBadIssuer,
			Detail: fmt.Sprintf("%s issuer %q is not one of this hub's origins (%s)",
				what, c.Issuer, strings.Join(opts.Issuers, ", ")),
			Hint: hintIf(operator)}
	}
	// Why: revocation is by jti, so a token without one could never be
	// revoked; this hub mints every token with one.
	if c.JTI == "" {
		return nil, &TokenError{Kind: ErrInvalidToken,
			Detail: "invalid token: no jti claim, so it could never be revoked", Hint: hintIf(operator)}
	}
	revoked, err := s.isRevoked(ctx, c.JTI)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, &TokenError{Kind: ErrRevoked,
			Detail: fmt.Sprintf("%s %s has been revoked", what, c.JTI), Hint: hintIf(operator)}
	}
	if c.Subject == "" {
		return nil, invalid("no sub claim")
	}
	if len(opts.Audiences) > 0 && !audienceAccepted(c, opts.Audiences) {
		return nil, &TokenError{Kind: ErrInvalidToken,
			Detail: fmt.Sprintf("invalid token: %s is not accepted here (want %s)",
				describeAudience(c), strings.Join(opts.Audiences, " or ")),
			Hint: "use the operator token; run `parachute auth rotate-operator` to mint one"}
	}
	return c, nil
}

// audienceAccepted reports whether c's aud is, or contains, one of accepted.
func audienceAccepted(c *Claims, accepted []string) bool {
	for _, a := range accepted {
		if c.HasAudience(a) {
			return true
		}
	}
	return false
}

// describeAudience names c's aud for an error message.
func describeAudience(c *Claims) string {
	switch {
	case len(c.Audiences) > 0:
		return fmt.Sprintf("audience %q", c.Audiences)
	case c.Audience != "":
		return fmt.Sprintf("audience %q", c.Audience)
	default:
		return "a token without an aud claim"
	}
}

// parseSigned checks the token's form, algorithm, key (usable at now) and
// signature, and decodes its claims. It checks nothing about the claims' values.
func (s *Store) parseSigned(ctx context.Context, token string, now time.Time) (*Claims, error) {
	if len(token) > maxTokenLen {
		return nil, invalid("longer than %d bytes", maxTokenLen)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, invalid("not a compact JWS (want 3 dot-separated parts, got %d)", len(parts))
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, invalid("header is not base64url")
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, invalid("header is not JSON")
	}
	// Why: the algorithm comes from the attacker-controlled header. Only
	// RS256 is ever accepted, so "none" and HMAC-with-the-public-key
	// confusion attacks are impossible.
	if h.Alg != Algorithm {
		return nil, invalid("algorithm %q (only %s is accepted)", h.Alg, Algorithm)
	}
	if len(h.Crit) > 0 {
		return nil, invalid("unsupported critical header parameters %v", h.Crit)
	}
	if h.Kid == "" {
		return nil, invalid("no kid in header")
	}
	pub, err := s.verifyingKey(ctx, h.Kid, now)
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, invalid("signature is not base64url")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, invalid("bad signature")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, invalid("payload is not base64url")
	}
	var c Claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, invalid("payload: %v", err)
	}
	return &c, nil
}

// isRevoked reports whether the registry has jti with revoked_at set. A
// jti without a row (tokens minted before the registry existed, short-lived
// SPA tokens) is not revoked.
func (s *Store) isRevoked(ctx context.Context, jti string) (bool, error) {
	var revoked sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT revoked_at FROM tokens WHERE jti = ?`, jti).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking revocation of %s: %w", jti, err)
	}
	return revoked.Valid && revoked.String != "", nil
}

func issuerAccepted(iss string, accepted []string) bool {
	if iss == "" {
		return false
	}
	iss = strings.TrimRight(iss, "/")
	for _, a := range accepted {
		if a != "" && strings.TrimRight(a, "/") == iss {
			return true
		}
	}
	return false
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
