// Package settings reads and writes hub_settings, the hub's key/value
// table in hub.db (reference schema v11: key PRIMARY KEY, value,
// updated_at). Keys are the reference's (HubOrigin, …), so a value set by
// either hub is seen by the other.
package settings

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openparachute/parachute/internal/hubdb"
)

// HubOrigin is the key of the admin's choice of hub origin.
const HubOrigin = "hub_origin"

// Get returns the value of key; ok is false when it is not set.
func Get(ctx context.Context, db *sql.DB, key string) (value string, ok bool, err error) {
	err = db.QueryRowContext(ctx, `SELECT value FROM hub_settings WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading hub setting %s: %w", key, err)
	}
	return value, true, nil
}

// Set stores value under key, stamping updated_at with now.
func Set(ctx context.Context, db *sql.DB, key, value string, now time.Time) error {
	_, err := db.ExecContext(ctx, `INSERT INTO hub_settings (key, value, updated_at) VALUES (?, ?, ?)
ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, hubdb.FormatTime(now))
	if err != nil {
		return fmt.Errorf("writing hub setting %s: %w", key, err)
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func Delete(ctx context.Context, db *sql.DB, key string) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM hub_settings WHERE key = ?`, key); err != nil {
		return fmt.Errorf("removing hub setting %s: %w", key, err)
	}
	return nil
}
