package auth

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"math/big"
)

// JWKS is the document served at /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is one RSA public key in JWK form (RFC 7517/7518).
type JWK struct {
	Kty string `json:"kty"`
	N   string `json:"n"`
	E   string `json:"e"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS returns the public keys modules may verify hub tokens with: every
// active key plus keys retired less than KeyRetention ago; active keys
// first, then newest first.
// Keys is never nil, so it encodes as [] on an empty database.
func (s *Store) JWKS(ctx context.Context) (JWKS, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT kid, public_key_pem, retired_at FROM signing_keys
		WHERE algorithm = ? ORDER BY retired_at IS NOT NULL, created_at DESC, kid DESC`, Algorithm)
	if err != nil {
		return JWKS{}, fmt.Errorf("listing signing keys: %w", err)
	}
	defer rows.Close()
	now := s.now()
	out := JWKS{Keys: []JWK{}}
	for rows.Next() {
		var kid, pubPEM string
		var retired sql.NullString
		if err := rows.Scan(&kid, &pubPEM, &retired); err != nil {
			return JWKS{}, fmt.Errorf("reading signing key: %w", err)
		}
		if retired.Valid && !withinRetention(retired.String, now) {
			continue
		}
		pub, err := s.publicKey(kid, pubPEM)
		if err != nil {
			return JWKS{}, err
		}
		out.Keys = append(out.Keys, JWK{
			Kty: "RSA",
			N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			Kid: kid,
			Alg: Algorithm,
			Use: "sig",
		})
	}
	if err := rows.Err(); err != nil {
		return JWKS{}, fmt.Errorf("listing signing keys: %w", err)
	}
	return out, nil
}
