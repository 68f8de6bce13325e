package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/openparachute/parachute/internal/hubdb"
)

// SetPassword replaces the password of user id with one the user chose:
// it stores a new hash, marks the password as changed and bumps
// updated_at. Ending the user's other sessions belongs to the caller that
// knows which session is current.
func (s *Store) SetPassword(ctx context.Context, id, password string) error {
	return s.setPassword(ctx, id, password, true, false)
}

// SetPasswordEndingSessions is SetPassword for a change made outside any
// session of the user (`parachute auth set-password` on the box): none of
// the user's sessions is the one making the change, so every one of them
// ends in the same transaction. Tokens stay live: the user chose this
// password, unlike a reset.
func (s *Store) SetPasswordEndingSessions(ctx context.Context, id, password string) error {
	return s.setPassword(ctx, id, password, true, true)
}

// ResetPassword sets the password of user id to one an admin chose: the
// user must change it at the next sign-in, every token still live for the
// user is revoked and every session of the user ends, in the same
// transaction (the reset exists because the old password, or a device
// signed in with it, may be in the wrong hands). The token rows stay,
// anchored to the user, for the audit trail.
func (s *Store) ResetPassword(ctx context.Context, id, password string) error {
	return s.setPassword(ctx, id, password, false, true)
}

func (s *Store) setPassword(ctx context.Context, id, password string, chosen, endSessions bool) error {
	// Cheap existence check first: hashing for an unknown id would spend
	// argon2id's cost on nothing.
	if _, err := s.ByID(ctx, id); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	stamp := hubdb.FormatTime(s.now())
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET password_hash = ?, password_changed = ?, updated_at = ? WHERE id = ?`,
			hash, boolInt(chosen), stamp, id)
		if err != nil {
			return fmt.Errorf("setting the password of user %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrUserNotFound // deleted since the check above
		}
		if !chosen {
			if _, err := tx.ExecContext(ctx,
				`UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, stamp, id); err != nil {
				return fmt.Errorf("revoking the tokens of user %s: %w", id, err)
			}
		}
		if !endSessions {
			return nil
		}
		// Why here and not in the caller: a browser signed in with the old
		// password must not outlive the change, and a change that committed
		// without this delete would leave exactly that.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("ending the sessions of user %s: %w", id, err)
		}
		return nil
	})
}

// SetVaults replaces the vault assignments of user id with names (role
// write, duplicates dropped), bumps updated_at and, in the same
// transaction, revokes the user's minted tokens for a vault they no
// longer hold (revokeUnheld).
func (s *Store) SetVaults(ctx context.Context, id string, names []string) error {
	stamp := hubdb.FormatTime(s.now())
	var vs []Vault
	for _, n := range names {
		if !slices.ContainsFunc(vs, func(v Vault) bool { return v.Name == n }) {
			vs = append(vs, Vault{Name: n, Role: RoleWrite})
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET updated_at = ? WHERE id = ?`, stamp, id)
		if err != nil {
			return fmt.Errorf("updating user %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrUserNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_vaults WHERE user_id = ?`, id); err != nil {
			return fmt.Errorf("clearing the vaults of user %s: %w", id, err)
		}
		if err := insertVaults(ctx, tx, id, vs, stamp); err != nil {
			return err
		}
		return revokeUnheld(ctx, tx, id, vs, stamp)
	})
}

// revokeUnheld revokes the user's minted tokens (the account page's
// vault tokens) that name a vault, or a verb on it, the assignments vs no
// longer give them.
//
// Why: such a token is pinned to its vault at mint time and lives for
// months, so taking the vault away from a friend would otherwise leave
// them its access until the token expires. OAuth refresh rows are left
// alone: every access token they mint takes its vault_scope from the
// assignments of that moment, so the removed vault drops out on the next
// refresh without signing the friend out of the vaults they keep.
func revokeUnheld(ctx context.Context, tx *sql.Tx, id string, vs []Vault, stamp string) error {
	rows, err := tx.QueryContext(ctx, `SELECT jti, scopes FROM tokens
		WHERE user_id = ? AND revoked_at IS NULL AND refresh_token_hash IS NULL`, id)
	if err != nil {
		return fmt.Errorf("reading the tokens of user %s: %w", id, err)
	}
	var drop []string
	for rows.Next() {
		var jti, scopes string
		if err := rows.Scan(&jti, &scopes); err != nil {
			rows.Close()
			return fmt.Errorf("reading the tokens of user %s: %w", id, err)
		}
		if !heldScopes(strings.Fields(scopes), vs) {
			drop = append(drop, jti)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the tokens of user %s: %w", id, err)
	}
	for _, jti := range drop {
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE jti = ?`, stamp, jti); err != nil {
			return fmt.Errorf("revoking token %s of user %s: %w", jti, id, err)
		}
	}
	return nil
}

// heldScopes reports whether every named vault scope (vault:<name>:<verb>)
// among scopes is one the assignments vs allow; other scopes are not
// vault assignments' to judge.
func heldScopes(scopes []string, vs []Vault) bool {
	for _, sc := range scopes {
		parts := strings.Split(sc, ":")
		if len(parts) != 3 || parts[0] != "vault" {
			continue
		}
		if !slices.ContainsFunc(vs, func(v Vault) bool {
			return v.Name == parts[1] && slices.Contains(VaultVerbs(v.Role), parts[2])
		}) {
			return false
		}
	}
	return true
}

// VaultVerbsFor returns the verbs user id may hold on vault, and false
// when the vault is not assigned to the user.
func (s *Store) VaultVerbsFor(ctx context.Context, id, vault string) ([]string, bool, error) {
	var role string
	err := s.db.QueryRowContext(ctx,
		`SELECT role FROM user_vaults WHERE user_id = ? AND vault_name = ?`, id, vault).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the role of user %s on vault %s: %w", id, vault, err)
	}
	return VaultVerbs(role), true, nil
}

// Delete removes user id. Its vault assignments go with it (ON DELETE
// CASCADE); its sessions, consent grants and unused authorization codes
// are deleted; its tokens are revoked and kept for the audit trail, with
// the username moved into subject since the user_id they pointed at goes.
// Refusing to delete the first admin is the caller's policy.
//
// The reference forgot auth_codes here: a user with an outstanding code
// could not be deleted (its foreign key blocks the delete).
func (s *Store) Delete(ctx context.Context, id string) error {
	stamp := hubdb.FormatTime(s.now())
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var name string
		err := tx.QueryRowContext(ctx, `SELECT username FROM users WHERE id = ?`, id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrUserNotFound
		}
		if err != nil {
			return fmt.Errorf("reading user %s: %w", id, err)
		}
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, []any{stamp, id}},
			{`UPDATE tokens SET subject = COALESCE(subject, ?), user_id = NULL WHERE user_id = ?`, []any{name, id}},
			{`DELETE FROM sessions WHERE user_id = ?`, []any{id}},
			{`DELETE FROM grants WHERE user_id = ?`, []any{id}},
			{`DELETE FROM auth_codes WHERE user_id = ?`, []any{id}},
			{`DELETE FROM users WHERE id = ?`, []any{id}},
		} {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				return fmt.Errorf("deleting user %q: %w", name, err)
			}
		}
		return nil
	})
}

// insertVaults adds assignments for user id.
func insertVaults(ctx context.Context, tx *sql.Tx, id string, vs []Vault, stamp string) error {
	for _, v := range vs {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO user_vaults (user_id, vault_name, role, created_at) VALUES (?, ?, ?, ?)`,
			id, v.Name, v.Role, stamp); err != nil {
			return fmt.Errorf("assigning vault %q to user %s: %w", v.Name, id, err)
		}
	}
	return nil
}
