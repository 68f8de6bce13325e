// Package sessions holds the hub's browser sessions: the
// parachute_hub_session cookie and its row in hub.db's sessions table, the
// CSRF double-submit cookie and the middleware that checks it, and the
// short-lived pending-login map between the password and 2FA steps of a
// sign-in (reference server.md §3b, §3d, §4a).
//
// Unlike the reference, which uses the raw cookie value as sessions.id, a
// row's id is the SHA-256 hex of the cookie value: a copy of hub.db (a
// backup, a support bundle) then holds nothing a browser could present.
// Sessions last 24 hours from sign-in, absolutely; every sign-in gets a
// fresh id (no fixation); sign-out deletes the row; a password change ends
// the user's other sessions (EndOthers).
//
// A Manager is safe for concurrent use. It keeps no session state in
// memory, so several processes (the hub and CLI verbs) may share hub.db.
package sessions

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/openparachute/parachute/internal/hubdb"
)

// Lifetimes of the hub's cookies (reference server.md §3b).
const (
	// SessionTTL is a session's absolute lifetime; it never slides.
	SessionTTL = 24 * time.Hour
	// CSRFTTL is the CSRF cookie's lifetime.
	CSRFTTL = 30 * 24 * time.Hour
	// PendingTTL is how long a password-verified sign-in waits for its
	// second factor.
	PendingTTL = 5 * time.Minute
)

// rawBytes is the entropy of every cookie value this package mints.
const rawBytes = 32

// Options configure a Manager. DB is required; the rest default to the
// real thing.
type Options struct {
	// DB is a pool from hubdb.Open.
	DB *sql.DB
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Secure reports whether a request reached the hub over https, which
	// decides the cookies' Secure attribute. Nil means DefaultSecure with
	// X-Forwarded-Proto trusted from loopback peers only.
	Secure func(*http.Request) bool
}

// Manager creates, finds and ends sessions. Create it with New.
type Manager struct {
	db     *sql.DB
	now    func() time.Time
	secure func(*http.Request) bool
}

// New returns a Manager on o.DB.
func New(o Options) *Manager {
	m := &Manager{db: o.DB, now: o.Now, secure: o.Secure}
	if m.now == nil {
		m.now = time.Now
	}
	if m.secure == nil {
		m.secure = func(r *http.Request) bool { return DefaultSecure(r, nil) }
	}
	return m
}

// HashID is the sessions.id stored for a raw cookie value
// (hubdb.HashSecret: SHA-256 in lowercase hex). The raw value never
// reaches the database.
func HashID(raw string) string { return hubdb.HashSecret(raw) }

// newRaw returns 32 random bytes in base64url without padding.
func newRaw() (string, error) {
	b := make([]byte, rawBytes)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", fmt.Errorf("reading randomness for a cookie: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// wellFormed reports whether s could be a value this package minted, so a
// junk or oversized cookie is refused before it is hashed or compared.
func wellFormed(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(rawBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// Create records a new session for userID and returns its raw cookie
// value and expiry. Expired rows are deleted in the same transaction, so
// the table holds at most a day's sign-ins.
func (m *Manager) Create(ctx context.Context, userID string) (raw string, expires time.Time, err error) {
	raw, err = newRaw()
	if err != nil {
		return "", time.Time{}, err
	}
	now := m.now()
	expires = now.Add(SessionTTL)
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("starting a session: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, hubdb.FormatTime(now)); err != nil {
		return "", time.Time{}, fmt.Errorf("deleting expired sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)`,
		HashID(raw), userID, hubdb.FormatTime(expires), hubdb.FormatTime(now)); err != nil {
		return "", time.Time{}, fmt.Errorf("starting a session for user %s: %w", userID, err)
	}
	if err := tx.Commit(); err != nil {
		return "", time.Time{}, fmt.Errorf("starting a session: %w", err)
	}
	return raw, expires, nil
}

// ErrNoSession means the value names no live session (unknown, expired or
// ended).
var ErrNoSession = errors.New("no live session: sign in again")

// Lookup returns the user whose live session raw is.
func (m *Manager) Lookup(ctx context.Context, raw string) (string, error) {
	if !wellFormed(raw) {
		return "", ErrNoSession
	}
	var uid string
	err := m.db.QueryRowContext(ctx, `SELECT user_id FROM sessions WHERE id = ? AND expires_at > ?`,
		HashID(raw), hubdb.FormatTime(m.now())).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNoSession
	}
	if err != nil {
		return "", fmt.Errorf("looking up a session: %w", err)
	}
	return uid, nil
}

// Current returns the signed-in user of r: the user whose live session
// the request's parachute_hub_session cookie names. A database error counts
// as signed out (fail closed).
func (m *Manager) Current(r *http.Request) (userID string, ok bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	uid, err := m.Lookup(r.Context(), c.Value)
	if err != nil {
		return "", false
	}
	return uid, true
}

// Delete ends the session raw names (no error if there is none).
func (m *Manager) Delete(ctx context.Context, raw string) error {
	if !wellFormed(raw) {
		return nil
	}
	if _, err := m.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, HashID(raw)); err != nil {
		return fmt.Errorf("ending a session: %w", err)
	}
	return nil
}

// EndOthers ends every session of userID except the one keepRaw names
// (keepRaw may be empty: end them all), e.g. after a password change or
// reset. It returns how many it ended.
func (m *Manager) EndOthers(ctx context.Context, userID, keepRaw string) (int64, error) {
	keep := ""
	if keepRaw != "" {
		keep = HashID(keepRaw)
	}
	res, err := m.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keep)
	if err != nil {
		return 0, fmt.Errorf("ending the other sessions of user %s: %w", userID, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// GC deletes expired sessions and returns how many.
func (m *Manager) GC(ctx context.Context) (int64, error) {
	res, err := m.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, hubdb.FormatTime(m.now()))
	if err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
