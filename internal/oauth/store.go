package oauth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/hubdb"
)

// Sentinel errors of Storage; handlers branch on them with errors.Is.
var (
	// ErrNotFound: no such client, code or token.
	ErrNotFound = errors.New("not found")
	// ErrCodeUsed: the authorization code was already redeemed.
	ErrCodeUsed = errors.New("authorization code already redeemed")
	// ErrRotated: the refresh token was rotated (or revoked) by a racing
	// request between our read and our write.
	ErrRotated = errors.New("refresh token already rotated")
)

// Client is a registered OAuth client (a clients row).
type Client struct {
	ID           string
	SecretHash   string // sha256 hex; empty for a public client
	RedirectURIs []string
	Scopes       []string
	Name         string
	RegisteredAt time.Time
	Status       string // StatusPending or StatusApproved
	SameHub      bool
}

// Client statuses.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
)

// Code is an authorization code (an auth_codes row).
type Code struct {
	Code          string
	ClientID      string
	UserID        string
	RedirectURI   string
	Scopes        []string
	Challenge     string
	ChallengeMeth string
	ExpiresAt     time.Time
}

// RefreshRow is a tokens row of an OAuth grant: the refresh token's hash
// and the jti its paired access token carries.
type RefreshRow struct {
	JTI       string
	UserID    string
	ClientID  string
	Scopes    []string
	Hash      string // sha256 hex of the refresh token
	FamilyID  string
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// Storage is the narrow interface every step of the flow shares. sqlStore
// is the hub.db implementation; tests use it too (real sqlite).
type Storage interface {
	Client(ctx context.Context, id string) (*Client, error)
	CreateClient(ctx context.Context, c Client) error
	ApproveClient(ctx context.Context, id string) error
	// ConsumeAutoApproveWindow reports whether the setup wizard's
	// first-client window is open at now, closing it if so.
	ConsumeAutoApproveWindow(ctx context.Context, now time.Time) (bool, error)

	SaveCode(ctx context.Context, c Code, now time.Time) error
	// RedeemCode marks code used and returns it; ErrCodeUsed if it was.
	RedeemCode(ctx context.Context, code string, now time.Time) (*Code, error)

	Grant(ctx context.Context, userID, clientID string) ([]string, bool, error)
	SaveGrant(ctx context.Context, userID, clientID string, scopes []string, now time.Time) error

	InsertRefresh(ctx context.Context, r RefreshRow, now time.Time) error
	RefreshByHash(ctx context.Context, hash string) (*RefreshRow, error)
	// Rotate revokes old (which must still be live) and inserts next in one
	// transaction; ErrRotated when old was no longer live.
	Rotate(ctx context.Context, oldJTI string, next RefreshRow, now time.Time) error
	RevokeFamily(ctx context.Context, familyID string, now time.Time) error
	TokenByJTI(ctx context.Context, jti string) (*RefreshRow, error)
	RevokeJTI(ctx context.Context, jti string, now time.Time) error
}

// SQLStore returns the hub.db implementation of Storage.
func SQLStore(db *sql.DB) Storage { return sqlStore{db} }

type sqlStore struct{ db *sql.DB }

func ts(t time.Time) string { return hubdb.FormatTime(t) }

func parseTS(s string) time.Time {
	t, _ := hubdb.ParseTime(s) // rows we cannot read count as expired
	return t
}

func (s sqlStore) Client(ctx context.Context, id string) (*Client, error) {
	var c Client
	var secret, name sql.NullString
	var uris, scopes, reg string
	var same int
	err := s.db.QueryRowContext(ctx, `SELECT client_id, client_secret_hash, redirect_uris, scopes,
		client_name, registered_at, status, same_hub FROM clients WHERE client_id = ?`, id).
		Scan(&c.ID, &secret, &uris, &scopes, &name, &reg, &c.Status, &same)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading client %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
		return nil, fmt.Errorf("reading client %s: redirect_uris: %w", id, err)
	}
	c.SecretHash, c.Name, c.SameHub = secret.String, name.String, same == 1
	c.Scopes = strings.Fields(scopes)
	c.RegisteredAt = parseTS(reg)
	return &c, nil
}

func (s sqlStore) CreateClient(ctx context.Context, c Client) error {
	uris, err := json.Marshal(c.RedirectURIs)
	if err != nil {
		return fmt.Errorf("registering client: %w", err)
	}
	var secret, name any
	if c.SecretHash != "" {
		secret = c.SecretHash
	}
	if c.Name != "" {
		name = c.Name
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO clients (client_id, client_secret_hash, redirect_uris,
		scopes, client_name, registered_at, status, same_hub) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, secret, string(uris), strings.Join(c.Scopes, " "), name, ts(c.RegisteredAt), c.Status, boolInt(c.SameHub))
	if err != nil {
		return fmt.Errorf("registering client: %w", err)
	}
	return nil
}

func (s sqlStore) ApproveClient(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE clients SET status = 'approved' WHERE client_id = ?`, id)
	if err != nil {
		return fmt.Errorf("approving client %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// autoApproveKey is the hub_settings key of the wizard's window (an
// RFC 3339 instant until which the first registration is approved).
const autoApproveKey = "pending_first_client_auto_approve_until"

func (s sqlStore) ConsumeAutoApproveWindow(ctx context.Context, now time.Time) (bool, error) {
	// Why a conditional DELETE: two racing registrations must not both
	// consume a one-shot window; only the one whose DELETE hits the row wins.
	var until string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM hub_settings WHERE key = ?`, autoApproveKey).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the first-client window: %w", err)
	}
	if t, err := time.Parse(time.RFC3339Nano, until); err != nil || !now.Before(t) {
		return false, nil // closed or malformed: left as the reference leaves it
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM hub_settings WHERE key = ? AND value = ?`, autoApproveKey, until)
	if err != nil {
		return false, fmt.Errorf("closing the first-client window: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (s sqlStore) SaveCode(ctx context.Context, c Code, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO auth_codes (code, client_id, user_id, redirect_uri,
		scopes, code_challenge, code_challenge_method, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Code, c.ClientID, c.UserID, c.RedirectURI, strings.Join(c.Scopes, " "), c.Challenge, c.ChallengeMeth,
		ts(c.ExpiresAt), ts(now))
	if err != nil {
		return fmt.Errorf("saving authorization code: %w", err)
	}
	return nil
}

func (s sqlStore) RedeemCode(ctx context.Context, code string, now time.Time) (*Code, error) {
	var c Code
	var scopes, exp string
	var used sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT code, client_id, user_id, redirect_uri, scopes, code_challenge,
		code_challenge_method, expires_at, used_at FROM auth_codes WHERE code = ?`, code).
		Scan(&c.Code, &c.ClientID, &c.UserID, &c.RedirectURI, &scopes, &c.Challenge, &c.ChallengeMeth, &exp, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading authorization code: %w", err)
	}
	if used.Valid {
		return nil, ErrCodeUsed
	}
	// Why conditional: two racing redemptions of one code must not both win.
	res, err := s.db.ExecContext(ctx, `UPDATE auth_codes SET used_at = ? WHERE code = ? AND used_at IS NULL`, ts(now), code)
	if err != nil {
		return nil, fmt.Errorf("redeeming authorization code: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, ErrCodeUsed
	}
	c.Scopes, c.ExpiresAt = strings.Fields(scopes), parseTS(exp)
	return &c, nil
}

func (s sqlStore) Grant(ctx context.Context, userID, clientID string) ([]string, bool, error) {
	var scopes string
	err := s.db.QueryRowContext(ctx, `SELECT scopes FROM grants WHERE user_id = ? AND client_id = ?`, userID, clientID).Scan(&scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading grant: %w", err)
	}
	return strings.Fields(scopes), true, nil
}

func (s sqlStore) SaveGrant(ctx context.Context, userID, clientID string, scopes []string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO grants (user_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		userID, clientID, strings.Join(scopes, " "), ts(now))
	if err != nil {
		return fmt.Errorf("saving grant: %w", err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertRefresh(ctx context.Context, e execer, r RefreshRow, now time.Time) error {
	_, err := e.ExecContext(ctx, `INSERT INTO tokens (jti, user_id, client_id, scopes, refresh_token_hash,
		family_id, expires_at, created_at, created_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'oauth_refresh')`,
		r.JTI, r.UserID, r.ClientID, strings.Join(r.Scopes, " "), r.Hash, r.FamilyID, ts(r.ExpiresAt), ts(now))
	if err != nil {
		return fmt.Errorf("recording refresh token: %w", err)
	}
	return nil
}

func (s sqlStore) InsertRefresh(ctx context.Context, r RefreshRow, now time.Time) error {
	return insertRefresh(ctx, s.db, r, now)
}

const tokenCols = `jti, COALESCE(user_id, ''), client_id, scopes, COALESCE(refresh_token_hash, ''),
	COALESCE(family_id, jti), expires_at, revoked_at`

func (s sqlStore) scanToken(ctx context.Context, where string, arg string) (*RefreshRow, error) {
	var r RefreshRow
	var scopes, exp string
	var revoked sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE `+where, arg).
		Scan(&r.JTI, &r.UserID, &r.ClientID, &scopes, &r.Hash, &r.FamilyID, &exp, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading token: %w", err)
	}
	r.Scopes, r.ExpiresAt = strings.Fields(scopes), parseTS(exp)
	if revoked.Valid {
		t := parseTS(revoked.String)
		r.RevokedAt = &t
	}
	return &r, nil
}

func (s sqlStore) RefreshByHash(ctx context.Context, hash string) (*RefreshRow, error) {
	return s.scanToken(ctx, `refresh_token_hash = ?`, hash)
}

func (s sqlStore) TokenByJTI(ctx context.Context, jti string) (*RefreshRow, error) {
	return s.scanToken(ctx, `jti = ?`, jti)
}

func (s sqlStore) Rotate(ctx context.Context, oldJTI string, next RefreshRow, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rotating refresh token: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL`, ts(now), oldJTI)
	if err != nil {
		return fmt.Errorf("rotating refresh token: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrRotated
	}
	if err := insertRefresh(ctx, tx, next, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rotating refresh token: %w", err)
	}
	return nil
}

func (s sqlStore) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`, ts(now), familyID)
	if err != nil {
		return fmt.Errorf("revoking token family: %w", err)
	}
	return nil
}

func (s sqlStore) RevokeJTI(ctx context.Context, jti string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL`, ts(now), jti)
	if err != nil {
		return fmt.Errorf("revoking token %s: %w", jti, err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
