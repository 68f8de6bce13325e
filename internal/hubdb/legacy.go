package hubdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// legacyTables are the only tables an earlier version of this project
// created in hub.db: it made signing_keys and tokens with CREATE TABLE IF
// NOT EXISTS and recorded no schema version, which made the reference's
// migration 1 fail with "table signing_keys already exists".
var legacyTables = []string{"signing_keys", "tokens"}

// isLegacyOurs reports whether the file holds that earlier layout:
// signing_keys exists while version 1 is not recorded. Any other table
// next to it means a layout nobody here knows, which is refused rather
// than guessed at.
func isLegacyOurs(ctx context.Context, tx *sql.Tx) (bool, error) {
	tables, err := userTables(ctx, tx)
	if err != nil {
		return false, err
	}
	if !slices.Contains(tables, "signing_keys") {
		return false, nil
	}
	for _, t := range tables {
		if t != "schema_version" && !slices.Contains(legacyTables, t) {
			return false, fmt.Errorf("hub db has a signing_keys table and a table %q but no recorded "+
				"schema version, a layout neither this hub nor the reference writes; "+
				"restore hub.db from a backup or move it aside to start fresh", t)
		}
	}
	return true, nil
}

// userTables lists the database's own tables (not SQLite's internal ones).
func userTables(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing hub db tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("listing hub db tables: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing hub db tables: %w", err)
	}
	return names, nil
}

// adoptLegacy moves the earlier layout aside, applies every migration so
// the tables are exactly the reference's (and the reference skips them),
// copies the keys and tokens back and drops the old tables.
//
// Why rebuild rather than only record versions 1..11 over the old tables:
// those tables differ from the reference's (nullable token columns, a
// default on algorithm, missing indexes), and the other tables of versions
// 2..11 are missing; recording versions the file does not have would leave
// both hubs querying tables that do not exist.
//
// The old rows always carried the values the reference's NOT NULL columns
// need; the COALESCEs only keep a hand-edited row from failing the copy.
// user_id was never set by the old code, and there are no users to point
// at, so it moves to subject rather than break the foreign key.
func adoptLegacy(ctx context.Context, tx *sql.Tx, stamp string) error {
	tables, err := userTables(ctx, tx)
	if err != nil {
		return err
	}
	var moved []string
	for _, t := range legacyTables {
		if !slices.Contains(tables, t) {
			continue
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE %s RENAME TO legacy_%s`, t, t)); err != nil {
			return fmt.Errorf("adopting hub db table %s: %w", t, err)
		}
		moved = append(moved, t)
	}
	for _, m := range migrations {
		if err := apply(ctx, tx, m, stamp); err != nil {
			return err
		}
	}
	copies := map[string]string{
		"signing_keys": `INSERT INTO signing_keys (kid, public_key_pem, private_key_pem, algorithm, created_at, retired_at)
SELECT kid, public_key_pem, private_key_pem, COALESCE(algorithm, 'RS256'), created_at, retired_at
FROM legacy_signing_keys`,
		"tokens": `INSERT INTO tokens (jti, user_id, client_id, scopes, refresh_token_hash, family_id,
  expires_at, revoked_at, created_at, permissions, created_via, subject)
SELECT jti, NULL, COALESCE(client_id, ''), COALESCE(scopes, ''), refresh_token_hash, family_id,
  COALESCE(expires_at, created_at, ?1), revoked_at, COALESCE(created_at, ?1), permissions,
  COALESCE(created_via, 'operator_mint'), COALESCE(subject, user_id)
FROM legacy_tokens`,
	}
	for _, t := range moved {
		var args []any
		if t == "tokens" {
			args = append(args, stamp)
		}
		if _, err := tx.ExecContext(ctx, copies[t], args...); err != nil {
			return fmt.Errorf("adopting hub db table %s: copying rows: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, `DROP TABLE legacy_`+t); err != nil {
			return fmt.Errorf("adopting hub db table %s: %w", t, err)
		}
	}
	return nil
}
