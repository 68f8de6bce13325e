// Package hubdb owns <root>/hub.db, the hub's SQLite database: opening it
// privately (mode, links, WAL, busy timeout, a bounded pool) and bringing
// its schema to the reference hub's schema v11 with append-only migrations
// recorded in schema_version.
//
// The schema is shared with the reference TypeScript hub in both
// directions: a hub.db the reference created opens here with its users,
// passwords, clients, grants and keys, and a hub.db created here opens
// under the reference, whose migrator sees versions 1..11 recorded and
// skips them. Files written by earlier versions of this project (only
// signing_keys and tokens, no schema_version) are adopted into that schema
// without losing a key or a token.
//
// Several processes (the hub and CLI verbs) may open the database at once:
// every transaction takes the write lock at BEGIN (_txlock=immediate) and
// SQLite's busy timeout queues the others.
package hubdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver (keeps the binary static)

	"github.com/openparachute/parachute/internal/secfile"
)

// BusyTimeout is how long a connection waits for another process's write
// lock before failing with SQLITE_BUSY. Writers hold the lock for
// milliseconds; the margin covers slow disks.
const BusyTimeout = 10 * time.Second

// MaxConns bounds the connection pool of a database returned by Open.
const MaxConns = 4

// TimeLayout is the text form of every timestamp column. It is what
// JavaScript's Date.toISOString produces, which the reference hub wrote and
// compares lexicographically (e.g. `retired_at >= ?`), so both must agree.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t the way the reference stores timestamps.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime reads a stored timestamp (any RFC 3339 form: TimeLayout, or
// what another writer of the file used).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing stored time %q: %w", s, err)
	}
	return t, nil
}

// HashSecret is the at-rest form of a bearer secret kept in hub.db
// (session ids, refresh tokens, client secrets): SHA-256 in lowercase hex.
// Why hashed: a copy of hub.db (a backup, a support bundle) then holds
// nothing a client could present. The secrets are 256-bit random values,
// so an unsalted fast hash is enough.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Open opens (creating when missing) the SQLite database at path, makes
// sure it and its -wal and -shm are private to their owner and not links,
// switches it to WAL mode with foreign keys on, and migrates its schema to
// the latest version (see Migrate). The caller closes the returned pool.
func Open(ctx context.Context, path string) (*sql.DB, error) {
	if strings.ContainsRune(path, '?') {
		// The driver splits its DSN at '?'; such a path would silently
		// open a different file.
		return nil, fmt.Errorf("opening hub db %s: path must not contain '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating hub db directory: %w", err)
	}
	f, err := openPrivate(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	// _txlock=immediate: every transaction takes the write lock at BEGIN,
	// so two processes running read-then-insert serialise instead of both
	// reading "no key" (a deferred BEGIN would upgrade late and fail with
	// SQLITE_BUSY, which the busy timeout cannot retry).
	dsn := fmt.Sprintf("%s?_busy_timeout=%d&_journal_mode=WAL&_foreign_keys=1&_txlock=immediate",
		path, BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening hub db %s: %w", path, err)
	}
	// Why a bounded pool: every SQLite connection holds three descriptors
	// (hub.db, -wal, -shm), and database/sql opens one per concurrent
	// query by default, so a burst of authenticated requests could grow
	// the hub's descriptors without limit. Writers serialise on the write
	// lock anyway; a few connections serve WAL's concurrent readers.
	db.SetMaxOpenConns(MaxConns)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 2*BusyTimeout)
	defer cancel()
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating hub db %s: %w", path, err)
	}
	if err := checkStillPrivate(path, f); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// sidecars are the files SQLite keeps next to hub.db in WAL mode.
var sidecars = []string{"-wal", "-shm"}

// openPrivate opens hub.db (creating it 0600 when missing) without
// following links, refuses it and its -wal and -shm when any of them is a
// symlink or not a regular file, and clears the permission bits beyond
// 0600 (0640 when the directory is shared with its group, see
// secfile.GroupShared) through the descriptors. It returns hub.db's
// descriptor so Open can check SQLite opened the same file.
//
// Why: hub.db holds the signing private key in clear (PKCS#8 PEM), the
// password hashes and the token registry. The reference hub left it at the
// umask default (0644), so any local user could read the key and forge
// admin tokens. And SQLite opens by path and follows symlinks, so a link
// planted as hub.db (or hub.db-wal) in a root the group can write would make
// a root hub write its keys wherever the link points.
func openPrivate(path string) (*os.File, error) {
	ceiling := os.FileMode(0o600)
	if _, ok := secfile.GroupShared(filepath.Dir(path)); ok {
		ceiling = 0o640
	}
	for _, sfx := range sidecars {
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
	for _, sfx := range sidecars {
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
	for _, sfx := range sidecars {
		if err := secfile.Check(path + sfx); err != nil {
			return fmt.Errorf("opening hub db: %w", err)
		}
	}
	return nil
}
