// Package auth holds the hub's credentials: the RS256 signing keys and the
// token registry in <root>/hub.db, a JWT minter and verifier on go-jose
// (RS256 only), the JWKS document modules verify against, and the
// operator token file the CLI authenticates with.
//
// hub.db is opened and migrated by package hubdb, which keeps it
// schema-compatible with the reference TypeScript hub in both directions, so
// a box switching from it keeps its signing key, and the operator token it
// minted keeps verifying. Several processes (the hub and CLI verbs) may open
// the database at once; every write that must not race runs in an IMMEDIATE
// transaction and SQLite's busy timeout queues the others.
package auth

import (
	"context"
	"crypto/rsa"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/openparachute/parachute/internal/hubdb"
)

// maxDBConns bounds the hub.db connection pool (see hubdb.Open).
const maxDBConns = hubdb.MaxConns

// Store is the hub's credential database, <root>/hub.db. It is safe for
// concurrent use by goroutines, and several processes may open the same file.
type Store struct {
	db   *sql.DB
	path string
	// owned is set when Open made db: Close then closes it. A Store from
	// NewStore leaves its pool to the caller that opened it.
	owned bool

	// now is the clock for minting, retention windows and timestamps.
	// Tests replace it; it is never changed after Open otherwise.
	now func() time.Time

	// mu guards the key caches that follow. A kid is the hash of the
	// public key's PEM text, so a parsed key can never go stale; whether a
	// key is still usable (retired or not) comes from keyRows, re-read
	// from the database at most keyRecheck after it was last read.
	mu      sync.Mutex
	pubs    map[string]*rsa.PublicKey
	privs   map[string]*rsa.PrivateKey
	keyRows map[string]keyRowEntry
	// keyRecheck is the constant keyRecheck; tests set 0 to re-read
	// every time.
	keyRecheck time.Duration

	// hot holds the prepared statements of Verify's queries, and verified
	// the bounded cache of verified signatures (verifycache.go); both are
	// safe for concurrent use on their own.
	hot      hotStmts
	verified verifiedCache
}

// Open opens (creating when missing) the hub database at path through
// hubdb.Open: private to its owner, in WAL mode, its schema migrated to the
// reference's schema v11.
func Open(path string) (*Store, error) {
	db, err := hubdb.Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	s := NewStore(db, path)
	s.owned = true
	return s, nil
}

// NewStore returns a Store on db, a pool from hubdb.Open on path that the
// caller keeps owning: the Store's Close leaves it open. `parachute serve`
// opens hub.db once and shares that pool between this store, the accounts,
// sessions, OAuth and settings tables, so the process holds at most one
// bounded pool of descriptors on the file.
func NewStore(db *sql.DB, path string) *Store {
	return &Store{
		db:         db,
		path:       path,
		now:        time.Now,
		pubs:       map[string]*rsa.PublicKey{},
		privs:      map[string]*rsa.PrivateKey{},
		keyRows:    map[string]keyRowEntry{},
		keyRecheck: keyRecheck,
	}
}

// DB returns the store's hub.db handle, for the packages that own other
// tables of the same file (accounts, oauth). It stays owned by the Store:
// callers never close it.
func (s *Store) DB() *sql.DB { return s.db }

// Path returns the database file the store was opened on.
func (s *Store) Path() string { return s.path }

// Close releases the store's prepared statements, and closes the database
// when Open opened it; a Store from NewStore leaves the pool to its owner.
func (s *Store) Close() error {
	s.hot.close()
	if !s.owned {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing hub db: %w", err)
	}
	return nil
}
