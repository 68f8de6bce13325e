package auth

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/hubdb"
)

// TokenPageSize is how many registry rows one ListTokens page holds (the
// reference's page size).
const TokenPageSize = 50

// TokenFilter narrows ListTokens. Empty fields do not filter.
type TokenFilter struct {
	// Revoked is "true" (only revoked), "false" (only live), "all" or "".
	Revoked string
	// Subject matches either the user_id (OAuth rows) or the subject
	// (minted and operator rows), as the reference's filter does.
	Subject    string
	CreatedVia string
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// ErrBadCursor: a ListTokens cursor this hub did not hand out.
var ErrBadCursor = errors.New("malformed cursor")

// TokenRecord is one token registry row, without the refresh hash.
type TokenRecord struct {
	JTI         string
	UserID      *string
	Subject     *string
	ClientID    string
	Scopes      []string
	ExpiresAt   string
	RevokedAt   *string
	CreatedAt   string
	CreatedVia  *string
	Permissions *string
}

// ListTokens returns one page of the token registry, newest first, and
// the opaque cursor of the next page ("" on the last one). The cursor
// carries the last row's (created_at, jti), so rows minted while an
// operator pages never shift a page.
func (s *Store) ListTokens(ctx context.Context, f TokenFilter) ([]TokenRecord, string, error) {
	var where []string
	var args []any
	switch f.Revoked {
	case "true":
		where = append(where, "revoked_at IS NOT NULL")
	case "false":
		where = append(where, "revoked_at IS NULL")
	}
	if f.Subject != "" {
		where = append(where, "(subject = ? OR user_id = ?)")
		args = append(args, f.Subject, f.Subject)
	}
	if f.CreatedVia != "" {
		where = append(where, "created_via = ?")
		args = append(args, f.CreatedVia)
	}
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		at, jti, ok := strings.Cut(string(b), "\n")
		if err != nil || !ok {
			return nil, "", fmt.Errorf("listing tokens: %w", ErrBadCursor)
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND jti < ?))")
		args = append(args, at, at, jti)
	}
	q := `SELECT jti, user_id, subject, client_id, scopes, expires_at, revoked_at, created_at, created_via, permissions FROM tokens`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ") // only the constant clauses above; values are bound
	}
	q += fmt.Sprintf(" ORDER BY created_at DESC, jti DESC LIMIT %d", TokenPageSize+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	var out []TokenRecord
	for rows.Next() {
		var r TokenRecord
		var scopes string
		var uid, sub, rev, via, perms sql.NullString
		if err := rows.Scan(&r.JTI, &uid, &sub, &r.ClientID, &scopes, &r.ExpiresAt, &rev, &r.CreatedAt, &via, &perms); err != nil {
			return nil, "", fmt.Errorf("listing tokens: %w", err)
		}
		r.Scopes = strings.Fields(scopes)
		r.UserID, r.Subject, r.RevokedAt, r.CreatedVia, r.Permissions = nullPtr(uid), nullPtr(sub), nullPtr(rev), nullPtr(via), nullPtr(perms)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("listing tokens: %w", err)
	}
	next := ""
	if len(out) > TokenPageSize {
		out = out[:TokenPageSize]
		last := out[TokenPageSize-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt + "\n" + last.JTI))
	}
	return out, next, nil
}

func nullPtr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	return &n.String
}

// TokenScopes returns the scopes a registry row records for jti, or
// ErrUnknownToken.
func (s *Store) TokenScopes(ctx context.Context, jti string) ([]string, error) {
	var scopes string
	err := s.db.QueryRowContext(ctx, `SELECT scopes FROM tokens WHERE jti = ?`, jti).Scan(&scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading token %s: %w", jti, ErrUnknownToken)
	}
	if err != nil {
		return nil, fmt.Errorf("reading token %s: %w", jti, err)
	}
	return strings.Fields(scopes), nil
}

// RevokeAt revokes jti like Revoke and returns its revocation time (the
// first one, when it was already revoked).
func (s *Store) RevokeAt(ctx context.Context, jti string) (time.Time, error) {
	if err := s.Revoke(ctx, jti); err != nil {
		return time.Time{}, err
	}
	var at string
	if err := s.db.QueryRowContext(ctx, `SELECT revoked_at FROM tokens WHERE jti = ?`, jti).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("reading revocation of %s: %w", jti, err)
	}
	return hubdb.ParseTime(at)
}
