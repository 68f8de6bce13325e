package hubdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// Migrate brings db's schema to LatestVersion: it applies, in order, every
// migration whose version is not recorded in schema_version, and records
// it there, exactly as the reference hub's migrator does, so each side
// skips what the other applied. Versions above LatestVersion (written by a
// newer reference hub) are left alone: those migrations only add tables and
// columns this package does not name.
//
// A hub.db written by an earlier version of this project (signing_keys and
// tokens, no recorded versions) is adopted: its two tables are rebuilt in
// the reference's shape with every key and token kept.
//
// All pending work runs in one IMMEDIATE transaction, so two processes
// opening a new hub.db at once migrate it once, and a failure leaves the
// file as it was. db must have been opened with _txlock=immediate (Open
// does that) for the version check and the migrations to be one atomic
// step.
func Migrate(ctx context.Context, db *sql.DB) error {
	// Fast path without the write lock: an up-to-date file needs no
	// transaction, so every CLI verb's Open does not queue behind the hub.
	// (A missing schema_version reads as "nothing applied".)
	if applied, err := appliedVersionsIfAny(ctx, db); err == nil && pending(applied) == 0 {
		return nil
	}
	// Everything else, including creating schema_version, happens inside
	// one BEGIN IMMEDIATE transaction (_txlock=immediate). Why: an
	// autocommit CREATE starts as a reader and upgrades to a writer; in WAL
	// mode that upgrade fails at once with SQLITE_BUSY when another process
	// committed in between, and the busy timeout does not retry it. BEGIN
	// IMMEDIATE takes the write lock first and does wait.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting schema migration: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY,
  applied_at TEXT NOT NULL
)`); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	// Read again under the lock: another process may have migrated since.
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return err
	}
	stamp := FormatTime(time.Now())
	if !applied[1] {
		legacy, err := isLegacyOurs(ctx, tx)
		if err != nil {
			return err
		}
		if legacy {
			if err := adoptLegacy(ctx, tx, stamp); err != nil {
				return err
			}
			return commit(tx)
		}
	}
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		if err := apply(ctx, tx, m, stamp); err != nil {
			return err
		}
	}
	return commit(tx)
}

func commit(tx *sql.Tx) error {
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing schema migration: %w", err)
	}
	return nil
}

// apply runs one migration and records it.
func apply(ctx context.Context, tx *sql.Tx, m migration, stamp string) error {
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("applying schema version %d: %w; the file is unchanged: "+
			"restore hub.db from a backup or move it aside to start fresh", m.version, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, m.version, stamp); err != nil {
		return fmt.Errorf("recording schema version %d: %w", m.version, err)
	}
	return nil
}

// pending counts the known migrations not recorded in applied.
func pending(applied map[int]bool) int {
	n := 0
	for _, m := range migrations {
		if !applied[m.version] {
			n++
		}
	}
	return n
}

// querier is what *sql.DB and *sql.Tx share for reads.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// appliedVersions reads schema_version.
func appliedVersions(ctx context.Context, q querier) (map[int]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_version`)
	if err != nil {
		return nil, fmt.Errorf("reading schema_version: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("reading schema_version: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading schema_version: %w", err)
	}
	return applied, nil
}

// appliedVersionsIfAny is appliedVersions, with a missing schema_version
// table read as no versions (a new or legacy file).
func appliedVersionsIfAny(ctx context.Context, q querier) (map[int]bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("reading schema_version: %w", err)
	}
	if n == 0 {
		return map[int]bool{}, nil
	}
	return appliedVersions(ctx, q)
}

// Versions returns the schema versions recorded in db, in ascending order.
func Versions(ctx context.Context, db *sql.DB) ([]int, error) {
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []int
	for v := range applied {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}
