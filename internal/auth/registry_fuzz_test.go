package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"testing"
)

// FuzzListTokensCursor feeds arbitrary cursors (query-string bytes from
// any host:auth bearer) to ListTokens: it must never panic, and must
// answer either a page or ErrBadCursor, never a database error.
func FuzzListTokensCursor(f *testing.F) {
	s, err := Open(filepath.Join(f.TempDir(), "hub.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for _, j := range []string{"a", "b", "c"} {
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO tokens (jti, client_id, scopes, expires_at, created_at)
			VALUES (?, 'x', 'vault:default:read', '2100-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`, j); err != nil {
			f.Fatal(err)
		}
	}
	enc := base64.RawURLEncoding.EncodeToString
	for _, seed := range []string{"", "!!", enc([]byte("2026-01-01T00:00:00.000Z\nabc")), enc([]byte("\n")), enc([]byte("no newline")),
		enc([]byte("' OR 1=1 --\n\x00")), "=====", enc([]byte("9999\n\xff\xfe"))} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		rows, _, err := s.ListTokens(ctx, TokenFilter{Cursor: cursor})
		if err != nil && !errors.Is(err, ErrBadCursor) {
			t.Fatalf("cursor %q: %v", cursor, err)
		}
		if len(rows) > TokenPageSize {
			t.Fatalf("cursor %q: %d rows", cursor, len(rows))
		}
	})
}
