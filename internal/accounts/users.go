package accounts

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/openparachute/parachute/internal/hubdb"
)

// Sentinel errors callers branch on.
var (
	// ErrUserNotFound: no user has that id or name.
	ErrUserNotFound = errors.New("user not found")
	// ErrUsernameTaken: another user already has that name.
	ErrUsernameTaken = errors.New("username is already in use")
	// ErrSingleUser: a user exists and CreateOptions.AllowMulti is off.
	ErrSingleUser = errors.New("a user already exists; pass --allow-multi to create additional accounts")
)

// User is a row of the users table with the vaults assigned to it.
type User struct {
	ID           string
	Username     string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// PasswordChanged is false for an account whose password an admin
	// chose (created or reset); such a user must pick their own at the
	// next sign-in.
	PasswordChanged bool
	// TOTPEnrolled reports whether the user has 2FA (totp_secret set).
	TOTPEnrolled bool
	// Vaults are the user's vault assignments in the order they were
	// made. For the first admin an empty list means "every vault"; for
	// anyone else it means none.
	Vaults []Vault
}

// Vault is one row of user_vaults: a vault the user may use, with a role.
type Vault struct {
	Name string
	Role string
}

// The roles a vault assignment may carry. Every flow creates RoleWrite;
// RoleRead is a deliberate read-only assignment.
const (
	RoleWrite = "write"
	RoleRead  = "read"
)

// VaultVerbs returns the vault:<name>:<verb> verbs a role grants. An
// assigned user holds the vault fully (read, write, admin), as in the
// reference; a role this code does not know grants nothing (fail closed).
func VaultVerbs(role string) []string {
	switch role {
	case RoleWrite:
		return []string{"read", "write", "admin"}
	case RoleRead:
		return []string{"read"}
	}
	return nil
}

// Store reads and writes accounts in hub.db. It is safe for concurrent
// use; several processes may share the file (see package hubdb).
type Store struct {
	db *sql.DB
	// now is the clock for created_at/updated_at; tests replace it.
	now func() time.Time
}

// NewStore returns a Store on db, a pool from hubdb.Open.
func NewStore(db *sql.DB) *Store { return &Store{db: db, now: time.Now} }

// CreateOptions tune Create.
type CreateOptions struct {
	// AllowMulti allows a user when one exists already (a hub is
	// single-user unless asked otherwise).
	AllowMulti bool
	// PasswordChanged marks a password the user chose themselves (the
	// first admin, a seeded admin); admin-created accounts leave it off.
	PasswordChanged bool
	// Vaults to assign with role write, duplicates dropped.
	Vaults []string
}

// Create adds a user with a new UUIDv4 id and an argon2id hash of
// password. The count check and the insert share one transaction, so
// racing single-user creations make exactly one user. The caller checks
// the name and password against its policy first (ValidateUsername,
// ValidatePassword); Create only refuses a name taken in any letter case.
func (s *Store) Create(ctx context.Context, username, password string, o CreateOptions) (*User, error) {
	// Hash before taking the write lock: argon2id takes tens of
	// milliseconds and other writers should not queue behind it.
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	id, err := newUUID()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	stamp := hubdb.FormatTime(now)
	u := &User{ID: id, Username: username, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
		PasswordChanged: o.PasswordChanged}
	for _, v := range o.Vaults {
		if !slices.ContainsFunc(u.Vaults, func(x Vault) bool { return x.Name == v }) {
			u.Vaults = append(u.Vaults, Vault{Name: v, Role: RoleWrite})
		}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			return fmt.Errorf("counting users: %w", err)
		}
		if n > 0 && !o.AllowMulti {
			return ErrSingleUser
		}
		// Case-insensitive: names are lower case by ValidateUsername, but a
		// row from elsewhere ("Bob") must not be shadowed by a new "bob".
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE username = ? COLLATE NOCASE`, username).Scan(&taken); err != nil {
			return fmt.Errorf("checking username %q: %w", username, err)
		}
		if taken > 0 {
			return fmt.Errorf("%w: %q", ErrUsernameTaken, username)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users
  (id, username, password_hash, created_at, updated_at, password_changed) VALUES (?, ?, ?, ?, ?, ?)`,
			id, username, hash, stamp, stamp, boolInt(o.PasswordChanged)); err != nil {
			return fmt.Errorf("creating user %q: %w", username, err)
		}
		return insertVaults(ctx, tx, id, u.Vaults, stamp)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ByName returns the user called username (exact match).
func (s *Store) ByName(ctx context.Context, username string) (*User, error) {
	return s.one(ctx, `username = ?`, username)
}

// ByID returns the user with id.
func (s *Store) ByID(ctx context.Context, id string) (*User, error) {
	return s.one(ctx, `id = ?`, id)
}

// List returns every user, oldest first.
func (s *Store) List(ctx context.Context) ([]User, error) {
	return s.query(ctx, `1 = 1`)
}

// Count returns how many users exist.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting users: %w", err)
	}
	return n, nil
}

// FirstAdminID returns the id of the hub's administrator: the oldest
// user, as in the reference (ties, which the reference leaves to chance,
// go to the row inserted first). It returns ErrUserNotFound when there is
// no user yet.
func (s *Store) FirstAdminID(ctx context.Context) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM users ORDER BY created_at, rowid LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrUserNotFound
	}
	if err != nil {
		return "", fmt.Errorf("finding the first admin: %w", err)
	}
	return id, nil
}

// IsAdmin reports whether id is the first admin.
func (s *Store) IsAdmin(ctx context.Context, id string) (bool, error) {
	first, err := s.FirstAdminID(ctx)
	if errors.Is(err, ErrUserNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return first == id, nil
}

// inTx runs f in an IMMEDIATE transaction (hubdb's pools begin that way)
// and commits when it returns nil.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting a hub db transaction: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing to hub db: %w", err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// newUUID returns a random (version 4) UUID, the reference's user id form
// (crypto.randomUUID).
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a user id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
