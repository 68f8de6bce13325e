// Package auth holds the hub's credentials: the RS256 signing keys and the
// token registry in <root>/hub.db, a JWT minter and verifier on go-jose
// (RS256 only), the JWKS document modules verify against, and the
// operator token file the CLI authenticates with.
//
// hub.db stays schema-compatible with the reference TypeScript hub, so a box
// switching from it keeps its signing key, and the operator token it minted
// keeps verifying. Several processes (the hub and CLI verbs) may open the
// database at once; every write that must not race runs in an IMMEDIATE
// transaction and SQLite's busy timeout queues the others.
package auth

import (
	"context"
	"crypto/rsa"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver (keeps the binary static)

	"github.com/openparachute/parachute/internal/secfile"
)

// busyTimeout is how long a connection waits for another process's write
// lock before failing with SQLITE_BUSY. Key generation happens outside the
// lock, so real waits are milliseconds; the margin covers slow disks.
const busyTimeout = 10 * time.Second

// timeLayout is the text form of every timestamp column. It is what
// JavaScript's Date.toISOString produces, which the reference hub wrote and
// compares lexicographically (e.g. `retired_at >= ?`), so both must agree.
const timeLayout = "2006-01-02T15:04:05.000Z"

// schema creates the two reference tables this package uses when they are
// missing. An existing reference database already has them (plus users,
// sessions, clients, ... and schema_version), which are never touched.
const schema = `
CREATE TABLE IF NOT EXISTS signing_keys (
  kid TEXT PRIMARY KEY,
  public_key_pem TEXT NOT NULL,
  private_key_pem TEXT NOT NULL,
  algorithm TEXT NOT NULL DEFAULT 'RS256',
  created_at TEXT NOT NULL,
  retired_at TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
  jti TEXT PRIMARY KEY,
  user_id TEXT,
  client_id TEXT,
  scopes TEXT,
  refresh_token_hash TEXT,
  family_id TEXT,
  expires_at TEXT,
  revoked_at TEXT,
  created_at TEXT,
  permissions TEXT,
  created_via TEXT,
  subject TEXT
);`

// Store is the hub's credential database, <root>/hub.db. It is safe for
// concurrent use by goroutines, and several processes may open the same file.
type Store struct {
	db   *sql.DB
	path string

	// now is the clock for minting, retention windows and timestamps.
	// Tests replace it; it is never changed after Open otherwise.
	now func() time.Time

	// mu guards the parsed-key caches that follow. A kid is the hash of
	// the public key's PEM text, so a cached entry can never go stale;
	// whether a key is still usable (retired or not) is always read from
	// the database.
	mu    sync.Mutex
	pubs  map[string]*rsa.PublicKey
	privs map[string]*rsa.PrivateKey
}

// Open opens (creating when missing) the SQLite database at path, makes
// sure it is private to its owner, switches it to WAL mode and creates the
// signing_keys and tokens tables when they do not exist yet.
func Open(path string) (*Store, error) {
	if strings.ContainsRune(path, '?') {
		// The driver splits its DSN at '?'; such a path would silently
		// open a different file.
		return nil, fmt.Errorf("opening hub db %s: path must not contain '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating hub db directory: %w", err)
	}
	db0, err := openPrivate(path)
	if err != nil {
		return nil, err
	}
	defer db0.Close()

	// _txlock=immediate: every transaction takes the write lock at BEGIN,
	// so two processes running read-then-insert serialise instead of both
	// reading "no key" (a deferred BEGIN would upgrade late and fail with
	// SQLITE_BUSY, which the busy timeout cannot retry).
	dsn := fmt.Sprintf("%s?_busy_timeout=%d&_journal_mode=WAL&_foreign_keys=1&_txlock=immediate",
		path, busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening hub db %s: %w", path, err)
	}
	// Why a bounded pool: every SQLite connection holds three descriptors
	// (hub.db, -wal, -shm), and database/sql opens one per concurrent
	// query by default, so a burst of authenticated requests could grow
	// the hub's descriptors without limit. Writers serialise on the write
	// lock anyway; a few connections serve WAL's concurrent readers.
	db.SetMaxOpenConns(maxDBConns)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	s := &Store{
		db:    db,
		path:  path,
		now:   time.Now,
		pubs:  map[string]*rsa.PublicKey{},
		privs: map[string]*rsa.PrivateKey{},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*busyTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating hub db tables in %s: %w", path, err)
	}
	if err := checkStillPrivate(path, db0); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// maxDBConns bounds the hub.db connection pool (see Open).
const maxDBConns = 4

// dbSidecars are the files SQLite keeps next to hub.db in WAL mode.
var dbSidecars = []string{"-wal", "-shm"}

// openPrivate opens hub.db (creating it 0600 when missing) without
// following links, refuses it and its -wal and -shm when any of them is a
// symlink or not a regular file, and clears the permission bits beyond
// 0600 (0640 when the directory is shared with its group, see
// secfile.GroupShared) through the descriptors. It returns hub.db's
// descriptor so Open can check SQLite opened the same file.
//
// Why: hub.db holds the signing private key in clear (PKCS#8 PEM) and the
// token registry. The reference hub left it at the umask default (0644), so
// any local user could read the key and forge admin tokens. And SQLite
// opens by path and follows symlinks, so a link planted as hub.db (or
// hub.db-wal) in a root the group can write would make a root hub write
// its keys wherever the link points.
func openPrivate(path string) (*os.File, error) {
	ceiling := os.FileMode(0o600)
	if _, ok := secfile.GroupShared(filepath.Dir(path)); ok {
		ceiling = 0o640
	}
	for _, sfx := range dbSidecars {
		if err := secfile.Check(path + sfx); err != nil {
			return nil, fmt.Errorf("opening hub db: %w", err)
		}
	}
	f, err := secfile.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening hub db %s: %w", path, err)
	}
	if _, err := secfile.Cap(f, ceiling); err != nil {
		f.Close()
		return nil, fmt.Errorf("restricting hub db %s to mode %04o: %w", path, ceiling, err)
	}
	// SQLite creates -wal and -shm with the main file's mode, but files
	// left by the reference hub may still carry its umask-default mode.
	for _, sfx := range dbSidecars {
		g, err := secfile.Open(path + sfx)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("opening hub db: %w", err)
		}
		_, err = secfile.Cap(g, ceiling)
		g.Close()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("restricting %s to mode %04o: %w", path+sfx, ceiling, err)
		}
	}
	return f, nil
}

// checkStillPrivate runs once SQLite has opened hub.db and written to it:
// hub.db must still be the regular file openPrivate checked (f), and the
// -wal and -shm SQLite uses must be regular files. It narrows the window
// between openPrivate's checks and SQLite's own opens by path.
func checkStillPrivate(path string, f *os.File) error {
	want, err := f.Stat()
	if err != nil {
		return fmt.Errorf("checking hub db %s: %w", path, err)
	}
	got, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("checking hub db %s: %w", path, err)
	}
	if !os.SameFile(want, got) {
		return fmt.Errorf("hub db %s was replaced while it was being opened; "+
			"check who else can write to %s (ls -ld %s) and restart the hub", path, filepath.Dir(path), filepath.Dir(path))
	}
	for _, sfx := range dbSidecars {
		if err := secfile.Check(path + sfx); err != nil {
			return fmt.Errorf("opening hub db: %w", err)
		}
	}
	return nil
}

// Path returns the database file the store was opened on.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing hub db: %w", err)
	}
	return nil
}

// formatTime renders t the way the reference stores timestamps.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// parseTime reads a stored timestamp (any RFC 3339 form).
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing stored time %q: %w", s, err)
	}
	return t, nil
}
