package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// BootstrapPrefix starts every bootstrap token (reference server.md §3c).
const BootstrapPrefix = "parachute-bootstrap-"

// Errors of Bootstrap.Claim, mapped by the setup page to HTTP statuses.
var (
	// ErrBootstrapInvalid: the token is missing or wrong (401). The
	// supplied value is never echoed.
	ErrBootstrapInvalid = errors.New("bootstrap token is not valid: copy it again from the hub's log")
	// ErrBootstrapUsed: the token was already claimed, or an admin exists
	// (410 Gone).
	ErrBootstrapUsed = errors.New("bootstrap token already used: the first admin exists; sign in at /login")
)

// Bootstrap is the one-time token that lets the first visitor of a fresh
// hub create the first admin. It lives only in this process's memory (a
// restart makes a new one), is checked in constant time, and is consumed
// only after the admin row is committed. It is safe for concurrent use:
// racing claims make exactly one admin.
type Bootstrap struct {
	store *Store
	token string

	mu   sync.Mutex // serializes Claim; guards used
	used bool
}

// NewBootstrap mints a token for store; r is the randomness (crypto/rand
// if nil).
func (s *Store) NewBootstrap(r io.Reader) (*Bootstrap, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading randomness for the bootstrap token: %w", err)
	}
	return &Bootstrap{store: s, token: BootstrapPrefix + base64.RawURLEncoding.EncodeToString(b)}, nil
}

// Token is the value to print in the start-up banner.
func (b *Bootstrap) Token() string { return b.token }

// Used reports whether the token has been claimed.
func (b *Bootstrap) Used() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Check reports whether Claim would accept token now: ErrBootstrapUsed
// once the token is claimed, ErrBootstrapInvalid when token is wrong,
// nil when it is right. The setup page calls it before validating the
// other fields, so a caller without the token learns nothing from field
// errors (reference order: token 401 first, then 400). Claim checks again.
func (b *Bootstrap) Check(token string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used {
		return ErrBootstrapUsed
	}
	return b.compare(token)
}

// compare checks token against the real one: length first (it is not
// secret), then in constant time. b.mu must be held.
func (b *Bootstrap) compare(token string) error {
	if len(token) != len(b.token) || subtle.ConstantTimeCompare([]byte(token), []byte(b.token)) != 1 {
		return ErrBootstrapInvalid
	}
	return nil
}

// Claim creates the first admin if token is this Bootstrap's token and no
// user exists yet. Username and password rules are those of Create.
func (b *Bootstrap) Claim(ctx context.Context, token, username, password string) (*User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used {
		return nil, ErrBootstrapUsed
	}
	if err := b.compare(token); err != nil {
		return nil, err
	}
	if err := ValidateUsername(username); err != nil {
		return nil, err
	}
	if err := ValidatePassword(password); err != nil {
		return nil, err
	}
	u, err := b.store.Create(ctx, username, password, CreateOptions{PasswordChanged: true})
	if errors.Is(err, ErrSingleUser) {
		// An admin was made another way (the CLI): the token is moot.
		b.used = true
		return nil, ErrBootstrapUsed
	}
	if err != nil {
		return nil, err
	}
	b.used = true // only now that the row is committed
	return u, nil
}

// SeedInitialAdmin creates the first admin from
// PARACHUTE_INITIAL_ADMIN_USERNAME and PARACHUTE_INITIAL_ADMIN_PASSWORD
// when both are set (a whitespace-only username counts as unset) and no
// user exists. It is a one-time action: once any user exists it does
// nothing, so changing the variables later never resets a password. It
// reports whether the variables were set at all, and the user it created.
func (s *Store) SeedInitialAdmin(ctx context.Context, getenv func(string) string) (configured bool, u *User, err error) {
	name := strings.TrimSpace(getenv("PARACHUTE_INITIAL_ADMIN_USERNAME"))
	pass := getenv("PARACHUTE_INITIAL_ADMIN_PASSWORD")
	if name == "" || pass == "" {
		return false, nil, nil
	}
	n, err := s.Count(ctx)
	if err != nil || n > 0 {
		return true, nil, err
	}
	if err := ValidateUsername(name); err != nil {
		return true, nil, fmt.Errorf("PARACHUTE_INITIAL_ADMIN_USERNAME: %w", err)
	}
	if err := ValidatePassword(pass); err != nil {
		return true, nil, fmt.Errorf("PARACHUTE_INITIAL_ADMIN_PASSWORD: %w", err)
	}
	u, err = s.Create(ctx, name, pass, CreateOptions{PasswordChanged: true})
	if errors.Is(err, ErrSingleUser) {
		return true, nil, nil // another process seeded it first
	}
	if err != nil {
		return true, nil, fmt.Errorf("seeding the first admin from PARACHUTE_INITIAL_ADMIN_USERNAME: %w", err)
	}
	return true, u, nil
}
