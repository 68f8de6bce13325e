package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/twofactor"
)

// HashBackupCode and VerifyBackupCode are the twofactor hash pair for
// backup codes: argon2id, the same PHC form as passwords, as the
// reference stores them.
func HashBackupCode(normalized string) (string, error) { return HashPassword(normalized) }

// VerifyBackupCode checks a normalized backup code against its hash.
func VerifyBackupCode(hash, normalized string) (bool, error) { return VerifyPassword(hash, normalized) }

// TOTP returns the user's TOTP secret ("" when not enrolled) and the JSON
// array of their remaining backup-code hashes.
func (s *Store) TOTP(ctx context.Context, id string) (secret, backupCodes string, err error) {
	var sec, codes sql.NullString
	err = s.db.QueryRowContext(ctx, `SELECT totp_secret, totp_backup_codes FROM users WHERE id = ?`, id).Scan(&sec, &codes)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrUserNotFound
	}
	if err != nil {
		return "", "", fmt.Errorf("reading the 2FA state of user %s: %w", id, err)
	}
	return sec.String, codes.String, nil
}

// EnableTOTP stores a confirmed TOTP secret and the hashed backup codes
// (twofactor.GenerateBackupCodes' stored form).
func (s *Store) EnableTOTP(ctx context.Context, id, secret, backupCodes string) error {
	now := hubdb.FormatTime(s.now())
	return s.update(ctx, id, "enabling 2FA",
		`UPDATE users SET totp_secret = ?, totp_backup_codes = ?, totp_enrolled_at = ?, updated_at = ? WHERE id = ?`,
		secret, backupCodes, now, now, id)
}

// DisableTOTP removes the user's TOTP secret and backup codes.
func (s *Store) DisableTOTP(ctx context.Context, id string) error {
	return s.update(ctx, id, "disabling 2FA",
		`UPDATE users SET totp_secret = NULL, totp_backup_codes = NULL, totp_enrolled_at = NULL, updated_at = ? WHERE id = ?`,
		hubdb.FormatTime(s.now()), id)
}

// UseBackupCode consumes one of the user's backup codes if code matches
// one, in a single transaction so two racing sign-ins cannot both spend it.
func (s *Store) UseBackupCode(ctx context.Context, id, code string) (bool, error) {
	var used bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var codes sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT totp_backup_codes FROM users WHERE id = ?`, id).Scan(&codes)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrUserNotFound
		}
		if err != nil {
			return fmt.Errorf("reading backup codes: %w", err)
		}
		if !codes.Valid {
			return nil
		}
		remaining, ok, err := twofactor.MatchBackupCode(codes.String, code, VerifyBackupCode)
		if err != nil || !ok {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_backup_codes = ? WHERE id = ?`, remaining, id); err != nil {
			return fmt.Errorf("spending a backup code: %w", err)
		}
		used = true
		return nil
	})
	return used, err
}

// update runs one UPDATE of a user row and maps "no row" to ErrUserNotFound.
func (s *Store) update(ctx context.Context, id, doing, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s for user %s: %w", doing, id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrUserNotFound
	}
	return nil
}
