package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/hubdb"
)

// Minted-token lifetimes (reference/lifecycle.md, `auth mint-token`).
const (
	// MintDefaultTTL is the lifetime when none is asked for.
	MintDefaultTTL = 90 * 24 * time.Hour
	// MintMaxTTL caps a requested lifetime.
	MintMaxTTL = 365 * 24 * time.Hour
	// MintEphemeralTTL is the lifetime of an unrecorded (ephemeral) token.
	MintEphemeralTTL = time.Hour
	// CreatedViaCLIMint is the registry's created_via for minted tokens.
	CreatedViaCLIMint = "cli_mint"
	// MintClientID is the client_id stamped on minted tokens.
	MintClientID = "parachute-hub"
)

// MintRequest is a token to mint for a module or a script. The caller
// (the hub's mint endpoint) has already checked the bearer may grant it.
type MintRequest struct {
	Issuer   string   // iss: the hub's canonical issuer
	Subject  string   // sub
	Scopes   []string // scope, space-joined in the token
	Audience string   // aud; empty means InferAudience(Scopes)
	// TTL is the lifetime; zero means MintDefaultTTL (MintEphemeralTTL
	// when Ephemeral).
	TTL time.Duration
	// VaultScope is the vault_scope pin (see VaultPins).
	VaultScope []string
	// Permissions, when set, is the permissions claim: a JSON object.
	Permissions json.RawMessage
	// Ephemeral tokens are not recorded in the token registry, so they
	// cannot be listed or revoked; they are short-lived instead.
	Ephemeral bool
	// UserID, when set, anchors the registry row to that user (tokens.
	// user_id), so resetting the user's password or deleting the user
	// revokes the token.
	UserID string
	// ClientID is the client_id claim and registry column; empty means
	// MintClientID.
	ClientID string
}

// MintToken mints a token for req and, unless it is ephemeral, records it
// in the token registry with created_via cli_mint, so it can be listed and
// revoked. It returns the token and its claims.
func (s *Store) MintToken(ctx context.Context, req MintRequest) (string, *Claims, error) {
	ttl := req.TTL
	switch {
	case ttl == 0 && req.Ephemeral:
		ttl = MintEphemeralTTL
	case ttl == 0:
		ttl = MintDefaultTTL
	case ttl < 0 || ttl > MintMaxTTL:
		return "", nil, fmt.Errorf("minting token: lifetime %s is outside (0, %s]", ttl, MintMaxTTL)
	}
	if len(req.Scopes) == 0 {
		return "", nil, errors.New("minting token: no scope")
	}
	aud := req.Audience
	if aud == "" {
		aud = InferAudience(req.Scopes)
	}
	vs := req.VaultScope
	if vs == nil {
		vs = []string{}
	}
	clientID := req.ClientID
	if clientID == "" {
		clientID = MintClientID
	}
	var userID any // NULL unless the token belongs to a user
	if req.UserID != "" {
		userID = req.UserID
	}
	now := s.now()
	c := &Claims{
		Issuer:     strings.TrimRight(req.Issuer, "/"),
		Subject:    req.Subject,
		Audience:   aud,
		IssuedAt:   now.Unix(),
		ExpiresAt:  now.Add(ttl).Unix(),
		JTI:        NewJTI(),
		Scope:      strings.Join(req.Scopes, " "),
		ClientID:   clientID,
		VaultScope: vs,
	}
	var perms any
	if len(req.Permissions) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(req.Permissions, &obj); err != nil || obj == nil {
			return "", nil, errors.New("minting token: permissions must be a JSON object")
		}
		c.Extra = map[string]any{"permissions": obj}
		perms = string(req.Permissions)
	}
	tok, err := s.Mint(ctx, *c)
	if err != nil {
		return "", nil, err
	}
	if req.Ephemeral {
		return tok, c, nil
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO tokens (jti, user_id, client_id, scopes, expires_at, created_at, permissions, created_via, subject)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.JTI, userID, clientID, c.Scope, hubdb.FormatTime(c.Expiry()), hubdb.FormatTime(now), perms, CreatedViaCLIMint, c.Subject)
	if err != nil {
		return "", nil, fmt.Errorf("recording minted token %s: %w", c.JTI, err)
	}
	return tok, c, nil
}
