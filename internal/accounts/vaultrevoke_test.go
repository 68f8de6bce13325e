package accounts

import (
	"context"
	"database/sql"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Taking a vault away from a friend (PATCH /api/users/<id>/vaults) must
// take away the bearer tokens they minted for it on the account page: those
// are pinned to the vault at mint time and live 90 days, so without a
// revocation the friend keeps the access the admin just removed. Tokens for
// the vaults the friend keeps, and OAuth refresh rows (whose access tokens
// take their vault_scope from the assignments at every refresh), stay.
func TestSetVaultsRevokesTokensForRemovedVaults(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	if _, err := s.Create(ctx, "owner", "a long enough password", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err := s.Create(ctx, "friend", "a long enough password", CreateOptions{AllowMulti: true, Vaults: []string{"family", "work"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Create(ctx, "other", "a long enough password", CreateOptions{AllowMulti: true, Vaults: []string{"family"}})
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		jti, user, scopes string
		refresh           bool
	}{
		{"family-write", u.ID, "vault:family:write", false},
		{"family-admin", u.ID, "vault:family:admin", false},
		{"work-read", u.ID, "vault:work:read", false},
		{"both", u.ID, "vault:work:read vault:family:read", false},
		{"unnamed", u.ID, "vault:read", false},
		{"oauth-refresh", u.ID, "vault:family:read", true},
		{"other-user", other.ID, "vault:family:write", false},
	}
	for _, r := range rows {
		var hash any
		if r.refresh {
			hash = "h-" + r.jti
		}
		if _, err := db.Exec(`INSERT INTO tokens (jti, user_id, client_id, scopes, refresh_token_hash, expires_at, created_at)
VALUES (?, ?, 'c1', ?, ?, '2099-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`, r.jti, r.user, r.scopes, hash); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetVaults(ctx, u.ID, []string{"work"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range rows {
		var revoked sql.NullString
		if err := db.QueryRow(`SELECT revoked_at FROM tokens WHERE jti = ?`, r.jti).Scan(&revoked); err != nil {
			t.Fatal(err)
		}
		got[r.jti] = revoked.Valid
	}
	want := map[string]bool{"family-write": true, "family-admin": true, "work-read": false, "both": true,
		"unnamed": false, "oauth-refresh": false, "other-user": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("revoked after removing family (-want +got):\n%s", diff)
	}
}
