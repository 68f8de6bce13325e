package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
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
	// the CLI out; a loopback issuer is accepted on any port once one
	// loopback origin is (issuerAccepted says why). Empty rejects every
	// token unless AnyIssuer is set.
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

// allowedAlgs is the explicit algorithm allowlist handed to go-jose.
//
// Why: the algorithm comes from the attacker-controlled header. Only RS256
// is ever accepted, so "none" and HMAC-with-the-public-key confusion
// attacks are impossible; go-jose rejects any other alg while parsing,
// before a key is even looked up.
var allowedAlgs = []jose.SignatureAlgorithm{jose.RS256}

// NewJTI returns a fresh token id: 16 random bytes, base64url, never
// starting with '-'. Why: operators pass jtis on the command line
// (`parachute auth revoke-token <jti>`), where a leading '-' reads as a
// flag; one jti in 64 would otherwise need `--` in front of it.
func NewJTI() string {
	for {
		var b [16]byte
		rand.Read(b[:]) // never fails: since Go 1.24 it crashes the program instead
		if s := base64.RawURLEncoding.EncodeToString(b[:]); s[0] != '-' {
			return s
		}
	}
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
	p, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("minting token: encoding claims: %w", err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	// Sign the payload bytes our MarshalJSON produced rather than handing
	// go-jose the struct, so the claims' JSON is exactly what it was before
	// the library swap (vault_scope always present, aud string or array).
	jws, err := signer.Sign(p)
	if err != nil {
		return "", fmt.Errorf("minting token: signing: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("minting token: serializing: %w", err)
	}
	return tok, nil
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
	// A token seen before skips parsing and the signature (verifycache.go);
	// everything below, the key's usability included, is checked every time.
	var cacheKey [sha256.Size]byte
	cacheable := len(token) <= maxTokenLen
	if cacheable {
		cacheKey = sha256.Sum256([]byte(token))
	}
	var c *Claims
	var kid string
	hit := false
	if e, ok := s.verified.get(cacheKey); cacheable && ok {
		if _, err := s.verifyingKey(ctx, e.kid, now); err != nil {
			return nil, err
		}
		c, kid, hit = e.claims.clone(), e.kid, true
	} else {
		var err error
		if c, kid, err = s.parseSigned(ctx, token, now); err != nil {
			return nil, err
		}
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
	if cacheable && !hit {
		s.verified.put(cacheKey, verifiedEntry{kid: kid, claims: c.clone()})
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
func (s *Store) parseSigned(ctx context.Context, token string, now time.Time) (*Claims, string, error) {
	if len(token) > maxTokenLen {
		return nil, "", invalid("longer than %d bytes", maxTokenLen)
	}
	// Checked here only for a clearer message than go-jose's.
	if n := strings.Count(token, ".") + 1; n != 3 {
		return nil, "", invalid("not a compact JWS (want 3 dot-separated parts, got %d)", n)
	}
	if err := checkCanonical(token); err != nil {
		return nil, "", err
	}
	tok, err := jwt.ParseSigned(token, allowedAlgs)
	if err != nil {
		var alg *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &alg) {
			return nil, "", invalid("algorithm %q (only %s is accepted)", alg.Got, Algorithm)
		}
		return nil, "", invalid("malformed: %v", err)
	}
	// A compact JWS has exactly one signature; go-jose guarantees it.
	h := tok.Headers[0]
	// Why: crit names extensions the verifier must understand (go-jose
	// would honour "b64", i.e. an unencoded payload); hub tokens use none,
	// so any crit is a token this hub did not make.
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, "", invalid("unsupported critical header parameters")
	}
	if h.JSONWebKey != nil {
		// Never trust a key the token carries; the kid names ours.
		return nil, "", invalid("embedded jwk header is not accepted")
	}
	if h.KeyID == "" {
		return nil, "", invalid("no kid in header")
	}
	pub, err := s.verifyingKey(ctx, h.KeyID, now)
	if err != nil {
		return nil, "", err
	}
	var c Claims
	if err := tok.Claims(pub, &c); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, "", invalid("bad signature")
		}
		return nil, "", invalid("payload: %v", err)
	}
	return &c, h.KeyID, nil
}

// checkCanonical rejects a compact JWS whose parts are not canonical
// unpadded base64url: characters outside the alphabet (the decoder skips
// CR and LF) or non-zero trailing bits.
//
// Why: go-jose verifies the signature over the re-encoded decoded header,
// not over the bytes received, so without this check one signed token has
// many accepted spellings (a later per-string denylist, log match or
// cache key could be sidestepped). The hand-written verifier this replaced
// signed over the received bytes and so accepted exactly one spelling.
func checkCanonical(token string) error {
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return invalid("character %q at offset %d is not base64url", c, i)
		}
	}
	for i, part := range strings.Split(token, ".") {
		if _, err := base64.RawURLEncoding.Strict().DecodeString(part); err != nil {
			return invalid("part %d is not canonical base64url", i+1)
		}
	}
	return nil
}

// isRevoked reports whether the registry has jti with revoked_at set. A
// jti without a row (tokens minted before the registry existed, short-lived
// SPA tokens) is not revoked.
func (s *Store) isRevoked(ctx context.Context, jti string) (bool, error) {
	var revoked sql.NullString
	err := s.queryRow(ctx, revokedQuery, jti).Scan(&revoked)
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
	loopbackAccepted := false
	for _, a := range accepted {
		a = strings.TrimRight(a, "/")
		if a != "" && a == iss {
			return true
		}
		loopbackAccepted = loopbackAccepted || isLoopbackOrigin(a)
	}
	// A loopback issuer is accepted on any port once any loopback origin
	// is: the port is where the hub happened to listen when it minted the
	// token (the operator token, the CLI's mints), and a hub moved to
	// another port (`serve --port`, a container's PORT) must not lock its
	// own operator out. The signature is what says the token is ours;
	// the port adds nothing to it.
	return loopbackAccepted && isLoopbackOrigin(iss)
}

// isLoopbackOrigin reports http://127.0.0.1:<port>, http://localhost:<port>
// or http://[::1]:<port>, with a port and nothing after it.
func isLoopbackOrigin(o string) bool {
	rest, ok := strings.CutPrefix(o, "http://")
	if !ok {
		return false
	}
	var port string
	for _, h := range []string{"127.0.0.1:", "localhost:", "[::1]:"} {
		if p, ok := strings.CutPrefix(rest, h); ok {
			port = p
			break
		}
	}
	if port == "" || len(port) > 5 {
		return false
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
