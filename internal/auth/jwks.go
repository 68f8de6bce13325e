package auth

import (
	"context"
	"database/sql"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// JWKS returns the document served at /.well-known/jwks.json: the public
// keys modules may verify hub tokens with, every active key plus keys
// retired less than KeyRetention ago; active keys first, then newest
// first. Each key carries kty, kid, use ("sig"), alg ("RS256"), n and e,
// the fields the reference served, so module verifiers keep working.
// Keys is never nil, so it encodes as [] on an empty database.
func (s *Store) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT kid, public_key_pem, retired_at FROM signing_keys
		WHERE algorithm = ? ORDER BY retired_at IS NOT NULL, created_at DESC, kid DESC`, Algorithm)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("listing signing keys: %w", err)
	}
	defer rows.Close()
	now := s.now()
	out := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for rows.Next() {
		var kid, pubPEM string
		var retired sql.NullString
		if err := rows.Scan(&kid, &pubPEM, &retired); err != nil {
			return jose.JSONWebKeySet{}, fmt.Errorf("reading signing key: %w", err)
		}
		if retired.Valid && !withinRetention(retired.String, now) {
			continue
		}
		pub, err := s.publicKey(kid, pubPEM)
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		out.Keys = append(out.Keys, jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: Algorithm, Use: "sig"})
	}
	if err := rows.Err(); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("listing signing keys: %w", err)
	}
	return out, nil
}
