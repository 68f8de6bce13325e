package oauth

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// The operator's view of clients and consent grants: what the admin API
// (/api/oauth/clients, /api/grants) and the CLI verbs behind it list and
// change. They take hub.db directly because they are not steps of the
// authorization flow (Storage).

// ClientInfo is a clients row without its secret hash.
type ClientInfo struct {
	ID           string
	Name         *string
	RedirectURIs []string
	Scopes       string
	RegisteredAt string
	Status       string
}

// ListClients returns the registered clients, oldest first; status, when
// not empty, keeps only those with that status (StatusPending, ...).
func ListClients(ctx context.Context, db *sql.DB, status string) ([]ClientInfo, error) {
	rows, err := db.QueryContext(ctx, `SELECT client_id, client_name, redirect_uris, scopes, registered_at, status
		FROM clients WHERE (? = '' OR status = ?) ORDER BY registered_at, client_id`, status, status)
	if err != nil {
		return nil, fmt.Errorf("listing clients: %w", err)
	}
	defer rows.Close()
	out := []ClientInfo{}
	for rows.Next() {
		var c ClientInfo
		var name sql.NullString
		var uris string
		if err := rows.Scan(&c.ID, &name, &uris, &c.Scopes, &c.RegisteredAt, &c.Status); err != nil {
			return nil, fmt.Errorf("listing clients: %w", err)
		}
		if name.Valid {
			c.Name = &name.String
		}
		if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
			return nil, fmt.Errorf("listing clients: client %s: redirect_uris: %w", c.ID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing clients: %w", err)
	}
	return out, nil
}

// ApproveClient flips a pending client to approved; ErrNotFound when no
// client has that id. Approving an approved client succeeds.
func ApproveClient(ctx context.Context, db *sql.DB, id string) error {
	return sqlStore{db}.ApproveClient(ctx, id)
}

// GrantInfo is a grants row joined with its user's name and client's name.
type GrantInfo struct {
	UserID     string
	Username   string
	ClientID   string
	ClientName *string
	Scopes     string
	GrantedAt  string
}

// ListGrants returns the consent grants, newest first; username, when not
// empty, keeps only that user's.
func ListGrants(ctx context.Context, db *sql.DB, username string) ([]GrantInfo, error) {
	rows, err := db.QueryContext(ctx, `SELECT g.user_id, COALESCE(u.username, ''), g.client_id, c.client_name, g.scopes, g.granted_at
		FROM grants g LEFT JOIN users u ON u.id = g.user_id LEFT JOIN clients c ON c.client_id = g.client_id
		WHERE (? = '' OR u.username = ?) ORDER BY g.granted_at DESC, g.client_id`, username, username)
	if err != nil {
		return nil, fmt.Errorf("listing grants: %w", err)
	}
	defer rows.Close()
	out := []GrantInfo{}
	for rows.Next() {
		var g GrantInfo
		var name sql.NullString
		if err := rows.Scan(&g.UserID, &g.Username, &g.ClientID, &name, &g.Scopes, &g.GrantedAt); err != nil {
			return nil, fmt.Errorf("listing grants: %w", err)
		}
		if name.Valid {
			g.ClientName = &name.String
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing grants: %w", err)
	}
	return out, nil
}

// RevokeGrant deletes the grants of clientID (only username's when it is
// not empty) and, in the same transaction, revokes every live token that
// client holds for those users, so the next authorization asks for
// consent again and nothing already issued keeps working. It returns
// ErrNotFound when no grant matched.
func RevokeGrant(ctx context.Context, db *sql.DB, clientID, username string, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("revoking grant of %s: %w", clientID, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	const users = `SELECT user_id FROM grants WHERE client_id = ?1 AND (?2 = '' OR user_id IN (SELECT id FROM users WHERE username = ?2))`
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?3 WHERE client_id = ?1 AND revoked_at IS NULL
		AND user_id IN (`+users+`)`, clientID, username, ts(now)); err != nil {
		return fmt.Errorf("revoking tokens of %s: %w", clientID, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE client_id = ?1 AND (?2 = '' OR user_id IN (SELECT id FROM users WHERE username = ?2))`,
		clientID, username)
	if err != nil {
		return fmt.Errorf("revoking grant of %s: %w", clientID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("revoking grant of %s: %w", clientID, err)
	}
	return nil
}
