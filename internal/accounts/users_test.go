package accounts

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/openparachute/parachute/internal/hubdb"
)

// openDB opens a hub.db at path (real sqlite, real migrations).
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := hubdb.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ticking returns a clock that starts at start and moves one second per
// reading, so every write has a distinct, known timestamp.
func ticking(start time.Time) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := now
		now = now.Add(time.Second)
		return t
	}
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*Store, *sql.DB) {
	t.Helper()
	db := openDB(t, filepath.Join(t.TempDir(), "hub.db"))
	s := NewStore(db)
	s.now = ticking(t0)
	return s, db
}

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCreateAndGet(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u, err := s.Create(ctx, "owner", "correct horse battery staple",
		CreateOptions{PasswordChanged: true, Vaults: []string{"default", "family", "default"}})
	if err != nil {
		t.Fatal(err)
	}
	if !uuid4.MatchString(u.ID) {
		t.Errorf("id %q is not a UUIDv4", u.ID)
	}
	want := &User{ID: u.ID, Username: "owner", PasswordHash: u.PasswordHash, CreatedAt: t0, UpdatedAt: t0,
		PasswordChanged: true, Vaults: []Vault{{"default", RoleWrite}, {"family", RoleWrite}}}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Errorf("Create (-want +got):\n%s", diff)
	}
	for name, get := range map[string]func() (*User, error){
		"ByName": func() (*User, error) { return s.ByName(ctx, "owner") },
		"ByID":   func() (*User, error) { return s.ByID(ctx, u.ID) },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if ok, err := VerifyPassword(u.PasswordHash, "correct horse battery staple"); err != nil || !ok {
		t.Errorf("stored hash does not verify: %v, %v", ok, err)
	}
	for _, err := range []error{
		func() error { _, err := s.ByName(ctx, "Owner"); return err }(),
		func() error { _, err := s.ByID(ctx, "nope"); return err }(),
	} {
		if !errors.Is(err, ErrUserNotFound) {
			t.Errorf("lookup of a missing user: %v, want ErrUserNotFound", err)
		}
	}
}

func TestCreateRules(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	steps := []struct {
		name    string
		user    string
		multi   bool
		wantErr error
	}{
		{"first user", "owner", false, nil},
		{"second without allow-multi", "friend", false, ErrSingleUser},
		{"second with allow-multi", "friend", true, nil},
		{"taken name", "friend", true, ErrUsernameTaken},
		{"taken name in another case", "Friend", true, ErrUsernameTaken},
		{"taken name, single-user check first", "friend", false, ErrSingleUser},
	}
	for _, st := range steps {
		_, err := s.Create(ctx, st.user, "a long enough password", CreateOptions{AllowMulti: st.multi})
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: Create(%q) error = %v, want %v", st.name, st.user, err, st.wantErr)
		}
	}
	if n, err := s.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	if _, err := s.Create(ctx, "long", string(make([]byte, MaxPasswordBytes+1)), CreateOptions{AllowMulti: true}); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Create with an oversized password: %v", err)
	}
}

func TestRacingSingleUserCreates(t *testing.T) {
	// Two pools on one file stand in for two processes (the hub seeding
	// its admin and an `auth set-password` at the same moment).
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	stores := []*Store{NewStore(openDB(t, path)), NewStore(openDB(t, path))}
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = stores[i%2].Create(ctx, "user"+string(rune('a'+i)), "a long enough password", CreateOptions{})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrSingleUser):
			t.Errorf("Create #%d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d creations succeeded, want exactly 1 (errors %v)", won, errs)
	}
}

func TestListAndFirstAdmin(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if _, err := s.FirstAdminID(ctx); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("FirstAdminID on an empty hub: %v, want ErrUserNotFound", err)
	}
	if users, err := s.List(ctx); err != nil || len(users) != 0 {
		t.Errorf("List on an empty hub = %v, %v", users, err)
	}
	// A clock that never moves: every row has the same created_at, and
	// the first row inserted must still be the admin.
	s.now = func() time.Time { return t0 }
	var ids []string
	for _, name := range []string{"owner", "bob", "alice"} {
		u, err := s.Create(ctx, name, "a long enough password", CreateOptions{AllowMulti: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	users, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	if diff := cmp.Diff([]string{"owner", "bob", "alice"}, names); diff != "" {
		t.Errorf("List order (-want +got):\n%s", diff)
	}
	if first, err := s.FirstAdminID(ctx); err != nil || first != ids[0] {
		t.Errorf("FirstAdminID = %q, %v; want owner %q", first, err, ids[0])
	}
	for i, id := range ids {
		if admin, err := s.IsAdmin(ctx, id); err != nil || admin != (i == 0) {
			t.Errorf("IsAdmin(%s) = %v, %v", names[i], admin, err)
		}
	}
}

func TestPasswordChanges(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	u, err := s.Create(ctx, "friend", "admin chose this one", CreateOptions{AllowMulti: true})
	if err != nil {
		t.Fatal(err)
	}
	insertToken(t, db, "live", u.ID, nil)
	steps := []struct {
		name        string
		do          func() error
		password    string
		wantChanged bool
		wantRevoked bool
	}{
		{"created by an admin", func() error { return nil }, "admin chose this one", false, false},
		{"user sets their own", func() error { return s.SetPassword(ctx, u.ID, "my own passphrase") }, "my own passphrase", true, false},
		{"admin resets it", func() error { return s.ResetPassword(ctx, u.ID, "temporary passphrase") }, "temporary passphrase", false, true},
	}
	last := u.UpdatedAt
	for i, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := s.ByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := VerifyPassword(got.PasswordHash, st.password); !ok {
			t.Errorf("%s: password %q does not verify", st.name, st.password)
		}
		if got.PasswordChanged != st.wantChanged {
			t.Errorf("%s: PasswordChanged = %v, want %v", st.name, got.PasswordChanged, st.wantChanged)
		}
		if i > 0 && !got.UpdatedAt.After(last) {
			t.Errorf("%s: updated_at %v not bumped past %v", st.name, got.UpdatedAt, last)
		}
		last = got.UpdatedAt
		var revoked sql.NullString
		db.QueryRow(`SELECT revoked_at FROM tokens WHERE jti = 'live'`).Scan(&revoked)
		if revoked.Valid != st.wantRevoked {
			t.Errorf("%s: token revoked = %v, want %v", st.name, revoked.Valid, st.wantRevoked)
		}
	}
	for _, f := range []func() error{
		func() error { return s.SetPassword(ctx, "nope", "whatever passphrase") },
		func() error { return s.ResetPassword(ctx, "nope", "whatever passphrase") },
	} {
		if err := f(); !errors.Is(err, ErrUserNotFound) {
			t.Errorf("password change of a missing user: %v, want ErrUserNotFound", err)
		}
	}
}

// insertToken records a token row for user (and the client it names).
func insertToken(t *testing.T, db *sql.DB, jti, user string, revokedAt *string) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO tokens (jti, user_id, client_id, scopes, expires_at, revoked_at, created_at)
VALUES (?, ?, 'c1', 'vault:default:read', '2099-01-01T00:00:00.000Z', ?, '2026-01-01T00:00:00.000Z')`,
		jti, user, revokedAt); err != nil {
		t.Fatal(err)
	}
}

func TestVaults(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	u, err := s.Create(ctx, "friend", "a long enough password", CreateOptions{Vaults: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetVaults(ctx, u.ID, []string{"family", "work", "family"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Vault{{"family", RoleWrite}, {"work", RoleWrite}}, got.Vaults); diff != "" {
		t.Errorf("vaults (-want +got):\n%s", diff)
	}
	if !got.UpdatedAt.After(u.UpdatedAt) {
		t.Errorf("SetVaults did not bump updated_at")
	}
	if _, err := db.Exec(`INSERT INTO user_vaults VALUES (?, 'ro', 'read', '2026-01-01T00:00:00.000Z'),
  (?, 'odd', 'owner', '2026-01-01T00:00:00.000Z')`, u.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		vault     string
		wantVerbs []string
		wantOK    bool
	}{
		{"family", []string{"read", "write", "admin"}, true},
		{"ro", []string{"read"}, true},
		{"odd", nil, true}, // a role this code does not know grants nothing
		{"default", nil, false},
	}
	for _, tc := range tests {
		verbs, ok, err := s.VaultVerbsFor(ctx, u.ID, tc.vault)
		if err != nil || ok != tc.wantOK {
			t.Errorf("VaultVerbsFor(%s) ok = %v, %v; want %v", tc.vault, ok, err, tc.wantOK)
		}
		if diff := cmp.Diff(tc.wantVerbs, verbs, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("VaultVerbsFor(%s) (-want +got):\n%s", tc.vault, diff)
		}
	}
	if err := s.SetVaults(ctx, "nope", nil); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("SetVaults of a missing user: %v", err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	owner, err := s.Create(ctx, "owner", "a long enough password", CreateOptions{PasswordChanged: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Create(ctx, "friend", "a long enough password", CreateOptions{AllowMulti: true, Vaults: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	old := "2026-02-01T00:00:00.000Z"
	insertToken(t, db, "live", u.ID, nil)
	insertToken(t, db, "old", u.ID, &old)
	insertToken(t, db, "owners", owner.ID, nil)
	for _, q := range []string{
		`INSERT INTO clients (client_id, redirect_uris, scopes, registered_at) VALUES ('c1', '[]', '', 'x')`,
		`INSERT INTO sessions VALUES ('s1', ?1, 'x', 'x')`,
		`INSERT INTO grants VALUES (?1, 'c1', 'vault:default:read', 'x')`,
		// An outstanding authorization code: the reference's delete
		// forgot these, and the foreign key then blocked it.
		`INSERT INTO auth_codes VALUES ('code', 'c1', ?1, 'https://x/cb', '', 'ch', 'S256', 'x', NULL, 'x')`,
	} {
		if _, err := db.Exec(q, u.ID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Delete(ctx, u.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.ByID(ctx, u.ID); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("deleted user still found: %v", err)
	}
	for _, table := range []string{"user_vaults", "sessions", "grants", "auth_codes"} {
		var n int
		db.QueryRow(`SELECT count(*) FROM `+table+` WHERE user_id = ?`, u.ID).Scan(&n)
		if n != 0 {
			t.Errorf("%d rows of the deleted user left in %s", n, table)
		}
	}
	rows, err := db.Query(`SELECT jti, COALESCE(user_id, '-'), COALESCE(subject, '-'), revoked_at IS NOT NULL FROM tokens ORDER BY jti`)
	if err != nil {
		t.Fatal(err)
	}
	type tok struct {
		JTI, User, Subject string
		Revoked            bool
	}
	var got []tok
	for rows.Next() {
		var k tok
		rows.Scan(&k.JTI, &k.User, &k.Subject, &k.Revoked)
		got = append(got, k)
	}
	rows.Close()
	want := []tok{
		{"live", "-", "friend", true},
		{"old", "-", "friend", true},
		{"owners", owner.ID, "-", false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens after delete (-want +got):\n%s", diff)
	}
	var oldRevoked string
	db.QueryRow(`SELECT revoked_at FROM tokens WHERE jti = 'old'`).Scan(&oldRevoked)
	if oldRevoked != old {
		t.Errorf("an earlier revocation time was overwritten: %s", oldRevoked)
	}
	if err := s.Delete(ctx, u.ID); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("second Delete: %v, want ErrUserNotFound", err)
	}
}

func TestReferenceUsers(t *testing.T) {
	// The users the reference's own createUser wrote (see
	// ../hubdb/testdata/README.md).
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join("..", "hubdb", "testdata", "ref-populated.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hub.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewStore(openDB(t, path))
	users, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Name    string
		Changed bool
		Vaults  []Vault
	}
	var got []summary
	for _, u := range users {
		got = append(got, summary{u.Username, u.PasswordChanged, u.Vaults})
	}
	want := []summary{
		{"owner", true, nil},
		{"friend", false, []Vault{{"default", RoleWrite}, {"family", RoleWrite}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("reference users (-want +got):\n%s", diff)
	}
	if first, err := s.FirstAdminID(ctx); err != nil || first != "e2e46f8f-d238-4180-9a5c-dd072f9f7b73" {
		t.Errorf("FirstAdminID = %q, %v; want the reference's owner", first, err)
	}
	for _, c := range []struct{ user, password string }{
		{"owner", "correct horse battery staple"},
		{"friend", "friend password 1234"},
	} {
		u, err := s.ByName(ctx, c.user)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := VerifyPassword(u.PasswordHash, c.password); err != nil || !ok {
			t.Errorf("%s's reference hash does not verify: %v, %v", c.user, ok, err)
		}
	}
	// And the reference's rows take our writes.
	if err := s.SetPassword(ctx, users[1].ID, "a new passphrase"); err != nil {
		t.Errorf("SetPassword on a reference user: %v", err)
	}
}
