package accounts

import (
	"context"
	"fmt"

	"github.com/openparachute/parachute/internal/hubdb"
)

// userColumns are the users columns a User is read from.
const userColumns = `id, username, password_hash, created_at, updated_at, password_changed, totp_secret IS NOT NULL`

// one returns the single user matching where.
func (s *Store) one(ctx context.Context, where string, args ...any) (*User, error) {
	users, err := s.query(ctx, where, args...)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, ErrUserNotFound
	}
	return &users[0], nil
}

// query reads the users matching where, oldest first, with their vaults.
func (s *Store) query(ctx context.Context, where string, args ...any) ([]User, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE `+where+` ORDER BY created_at, rowid`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading users: %w", err)
	}
	defer rows.Close()
	var users []User
	for rows.Next() {
		var u User
		var created, updated string
		var changed int
		if err := rows.Scan(&u.ID, &u.Username, &u.PasswordHash, &created, &updated, &changed, &u.TOTPEnrolled); err != nil {
			return nil, fmt.Errorf("reading users: %w", err)
		}
		u.PasswordChanged = changed == 1
		if u.CreatedAt, err = hubdb.ParseTime(created); err != nil {
			return nil, fmt.Errorf("reading user %s: %w", u.ID, err)
		}
		if u.UpdatedAt, err = hubdb.ParseTime(updated); err != nil {
			return nil, fmt.Errorf("reading user %s: %w", u.ID, err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading users: %w", err)
	}
	rows.Close()
	for i := range users {
		if users[i].Vaults, err = s.vaults(ctx, users[i].ID); err != nil {
			return nil, err
		}
	}
	return users, nil
}

// vaults reads a user's assignments in the order they were made.
func (s *Store) vaults(ctx context.Context, userID string) ([]Vault, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT vault_name, role FROM user_vaults WHERE user_id = ? ORDER BY created_at, vault_name`, userID)
	if err != nil {
		return nil, fmt.Errorf("reading vaults of user %s: %w", userID, err)
	}
	defer rows.Close()
	var vs []Vault
	for rows.Next() {
		var v Vault
		if err := rows.Scan(&v.Name, &v.Role); err != nil {
			return nil, fmt.Errorf("reading vaults of user %s: %w", userID, err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading vaults of user %s: %w", userID, err)
	}
	return vs, nil
}
