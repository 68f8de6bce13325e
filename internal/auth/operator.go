package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubdb"
)

// Operator token constants, as the reference hub mints them.
const (
	// OperatorAudience is the aud of operator tokens.
	OperatorAudience = "operator"
	// OperatorClientID is the client_id of operator tokens.
	OperatorClientID = "parachute-hub"
	// OperatorSubject is the sub of operator tokens and the registry's
	// subject column. The reference uses the first admin's user id as sub;
	// this hub has no users table yet, so sub is the fixed "operator".
	OperatorSubject = "operator"
	// OperatorTTL is the operator token lifetime.
	OperatorTTL = 90 * 24 * time.Hour
	// DefaultScopeSet is the scope set minted when none is named.
	DefaultScopeSet = "admin"
	// CreatedViaOperatorMint is the registry's created_via for operator tokens.
	CreatedViaOperatorMint = "operator_mint"
)

// HubAudience is the aud of tokens meant for the hub itself rather than a
// module: OAuth access tokens whose scopes name no module (hub:admin, or
// none), and the reference's SPA bearer.
const HubAudience = "hub"

// hubAudiences are the aud values the hub's own endpoints accept: the
// operator token's and HubAudience. Why a list at all: the reference
// accepted any hub-signed token whatever its aud, so a token minted for a
// module (aud "vault.<name>") with a broad scope could drive the operator
// API. A "hub" token reaches only what its scopes allow: the operator
// routes still require parachute:host:* scopes, which OAuth never grants.
var hubAudiences = []string{OperatorAudience, HubAudience}

// HubAudiences returns the aud values hub endpoints accept (a copy).
func HubAudiences() []string { return slices.Clone(hubAudiences) }

// ErrUnknownScopeSet is returned for a scope set name not in ScopeSetNames.
var ErrUnknownScopeSet = errors.New("unknown operator scope set")

// ErrUnknownToken is returned by Revoke when the registry has no such jti.
var ErrUnknownToken = errors.New("no such token in the registry")

// scopeSets are the operator scope sets of reference/server.md §3a.
var scopeSets = map[string]string{
	"install": "parachute:host:install vault:read",
	"start":   "parachute:host:start",
	"expose":  "parachute:host:expose",
	"auth":    "parachute:host:auth",
	"vault":   "parachute:host:vault",
	"admin": "hub:admin parachute:host:admin parachute:host:install parachute:host:start " +
		"parachute:host:expose parachute:host:auth parachute:host:vault vault:admin scribe:admin channel:send",
}

// ScopeSetNames lists the operator scope sets, in the reference's order.
func ScopeSetNames() []string {
	return []string{"install", "start", "expose", "auth", "vault", "admin"}
}

// ScopeSet returns the space-separated scopes of a named set ("" means
// DefaultScopeSet).
func ScopeSet(name string) (string, error) {
	if name == "" {
		name = DefaultScopeSet
	}
	s, ok := scopeSets[name]
	if !ok {
		return "", fmt.Errorf("%w %q (known: %s)", ErrUnknownScopeSet, name, strings.Join(ScopeSetNames(), ", "))
	}
	return s, nil
}

// MintOperator mints an operator token for issuer under scopeSet ("" means
// admin) and records it in the token registry so it can be revoked.
func (s *Store) MintOperator(ctx context.Context, issuer, scopeSet string) (string, *Claims, error) {
	if scopeSet == "" {
		scopeSet = DefaultScopeSet
	}
	scope, err := ScopeSet(scopeSet)
	if err != nil {
		return "", nil, fmt.Errorf("minting operator token: %w", err)
	}
	if issuer == "" {
		return "", nil, errors.New("minting operator token: no issuer")
	}
	now := s.now()
	c := &Claims{
		Issuer:     strings.TrimRight(issuer, "/"),
		Subject:    OperatorSubject,
		Audience:   OperatorAudience,
		IssuedAt:   now.Unix(),
		ExpiresAt:  now.Add(OperatorTTL).Unix(),
		JTI:        NewJTI(),
		Scope:      scope,
		ClientID:   OperatorClientID,
		ScopeSet:   scopeSet,
		VaultScope: []string{},
	}
	tok, err := s.Mint(ctx, *c)
	if err != nil {
		return "", nil, fmt.Errorf("minting operator token: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO tokens (jti, user_id, client_id, scopes, expires_at, created_at, created_via, subject)
		VALUES (?, NULL, ?, ?, ?, ?, ?, ?)`,
		c.JTI, OperatorClientID, scope, hubdb.FormatTime(c.Expiry()), hubdb.FormatTime(now),
		CreatedViaOperatorMint, OperatorSubject)
	if err != nil {
		return "", nil, fmt.Errorf("recording operator token %s: %w", c.JTI, err)
	}
	return tok, c, nil
}

// Revoke marks jti revoked in the token registry. Revoking an already
// revoked token keeps its first revocation time and succeeds; a jti the
// registry does not know is ErrUnknownToken.
func (s *Store) Revoke(ctx context.Context, jti string) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE jti = ?`, hubdb.FormatTime(s.now()), jti)
	if err != nil {
		return fmt.Errorf("revoking token %s: %w", jti, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoking token %s: %w", jti, err)
	} else if n == 0 {
		return fmt.Errorf("revoking token %s: %w", jti, ErrUnknownToken)
	}
	return nil
}

// revokeVerified revokes a token whose signature this hub verified, adding
// a registry row when it has none (operator tokens minted before the
// reference had a registry), so rotation really retires the old token.
func (s *Store) revokeVerified(ctx context.Context, c *Claims) error {
	var expires, created any
	if c.ExpiresAt != 0 {
		expires = hubdb.FormatTime(c.Expiry())
	}
	if c.IssuedAt != 0 {
		created = hubdb.FormatTime(time.Unix(c.IssuedAt, 0))
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO tokens (jti, user_id, client_id, scopes, expires_at, revoked_at, created_at, created_via, subject)
		VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (jti) DO UPDATE SET revoked_at = COALESCE(tokens.revoked_at, excluded.revoked_at)`,
		c.JTI, c.ClientID, c.Scope, expires, hubdb.FormatTime(s.now()), created, CreatedViaOperatorMint, c.Subject)
	if err != nil {
		return fmt.Errorf("revoking token %s: %w", c.JTI, err)
	}
	return nil
}

// RevokedJTIs lists revoked tokens that have not expired yet (the
// revocation list modules poll), sorted.
func (s *Store) RevokedJTIs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT jti FROM tokens WHERE revoked_at IS NOT NULL AND expires_at > ? ORDER BY jti`,
		hubdb.FormatTime(s.now()))
	if err != nil {
		return nil, fmt.Errorf("listing revoked tokens: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var jti string
		if err := rows.Scan(&jti); err != nil {
			return nil, fmt.Errorf("listing revoked tokens: %w", err)
		}
		out = append(out, jti)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing revoked tokens: %w", err)
	}
	return out, nil
}

// EnsureOperatorToken mints an admin operator token for issuer and writes
// it to path, only when no file exists there: an existing token is never
// overwritten, not even by a concurrent caller (the file is linked into
// place, which fails if the name exists; the loser revokes its own mint).
func (s *Store) EnsureOperatorToken(ctx context.Context, path, issuer string) (bool, error) {
	if _, err := os.Lstat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("checking operator token %s: %w", path, err)
	}
	tok, c, err := s.MintOperator(ctx, issuer, DefaultScopeSet)
	if err != nil {
		return false, err
	}
	err = writeTokenFile(path, tok, true)
	if errors.Is(err, fs.ErrExist) {
		// Someone else wrote the file first; theirs stands.
		if rerr := s.Revoke(ctx, c.JTI); rerr != nil {
			return false, fmt.Errorf("discarding unused operator token: %w", rerr)
		}
		return false, nil
	}
	if err != nil {
		_ = s.Revoke(ctx, c.JTI) // best effort: the token was never handed out
		return false, err
	}
	return true, nil
}

// RotateOperator mints a new operator token under scopeSet, writes it to
// path, and revokes the token the file held before when it was one of this
// hub's (its signature verifies). It returns the new token; when only the
// revocation fails, it returns the new token and an error saying so.
func (s *Store) RotateOperator(ctx context.Context, path, issuer, scopeSet string) (string, error) {
	old, _, err := ReadTokenFile(path)
	if err != nil && !errors.Is(err, config.ErrNoOperatorToken) {
		return "", err
	}
	tok, c, err := s.MintOperator(ctx, issuer, scopeSet)
	if err != nil {
		return "", err
	}
	if err := WriteTokenFile(path, tok); err != nil {
		_ = s.Revoke(ctx, c.JTI) // best effort: the token was never handed out
		return "", err
	}
	if old == "" {
		return tok, nil
	}
	oc, _, err := s.parseSigned(ctx, old, s.now())
	if err != nil || oc.JTI == "" || oc.JTI == c.JTI {
		// Not ours, or signed by a key past retention: nothing to revoke.
		return tok, nil
	}
	if err := s.revokeVerified(ctx, oc); err != nil {
		return tok, fmt.Errorf("new operator token written to %s, but %w", path, err)
	}
	return tok, nil
}
