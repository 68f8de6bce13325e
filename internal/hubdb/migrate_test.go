package hubdb

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// copyFixture copies testdata/name into a temp dir (tests never open the
// committed files in place: opening migrates and changes modes).
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "hub.db")
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func openT(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", filepath.Base(path), err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rawOpen opens a file without migrating it, to read what is there.
func rawOpen(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var (
	spaceRun   = regexp.MustCompile(`\s+`)
	spacePunct = regexp.MustCompile(`\s*([(),])\s*`)
)

// normalise makes two CREATE texts comparable across indentation.
func normalise(sql string) string {
	sql = spaceRun.ReplaceAllString(strings.TrimSpace(sql), " ")
	return spacePunct.ReplaceAllString(sql, "$1")
}

// schemaOf returns sqlite_master as "type name on tbl: sql" lines.
func schemaOf(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ, name, tbl, text string
		if err := rows.Scan(&typ, &name, &tbl, &text); err != nil {
			t.Fatal(err)
		}
		out = append(out, typ+" "+name+" on "+tbl+": "+normalise(text))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// referenceSchema is sqlite_master of the file the reference's migrator
// made from nothing (testdata/ref-empty.db).
func referenceSchema(t *testing.T) []string {
	t.Helper()
	s := schemaOf(t, rawOpen(t, copyFixture(t, "ref-empty.db")))
	if len(s) < 20 { // 10 tables + schema_version, their indexes
		t.Fatalf("reference fixture schema is too short: %q", s)
	}
	return s
}

func allVersions() []int {
	var v []int
	for i := 1; i <= LatestVersion; i++ {
		v = append(v, i)
	}
	return v
}

func versionsT(t *testing.T, db *sql.DB) []int {
	t.Helper()
	v, err := Versions(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFixtureIsReferenceV11(t *testing.T) {
	// Guards the fixture itself: the reference recorded 1..11.
	if diff := cmp.Diff(allVersions(), versionsT(t, rawOpen(t, copyFixture(t, "ref-empty.db")))); diff != "" {
		t.Fatalf("ref-empty.db versions (-want +got):\n%s", diff)
	}
}

func TestNewFileHasReferenceSchema(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "hub.db"))
	if diff := cmp.Diff(referenceSchema(t), schemaOf(t, db)); diff != "" {
		t.Errorf("schema of a new hub.db differs from the reference's (-ref +ours):\n%s", diff)
	}
	if diff := cmp.Diff(allVersions(), versionsT(t, db)); diff != "" {
		t.Errorf("schema_version (-want +got):\n%s", diff)
	}
}

func TestOpenReferenceFileKeepsData(t *testing.T) {
	path := copyFixture(t, "ref-populated.db")
	type snapshot struct {
		Schema []string
		Rows   map[string][]string
	}
	dump := func(db *sql.DB) snapshot {
		s := snapshot{Schema: schemaOf(t, db), Rows: map[string][]string{}}
		for _, q := range []string{
			`SELECT version || ' ' || applied_at FROM schema_version ORDER BY version`,
			`SELECT id || ' ' || username || ' ' || password_hash || ' ' || password_changed FROM users ORDER BY username`,
			`SELECT user_id || ' ' || vault_name || ' ' || role FROM user_vaults ORDER BY vault_name`,
			`SELECT client_id || ' ' || redirect_uris || ' ' || status || ' ' || same_hub FROM clients`,
			`SELECT user_id || ' ' || client_id || ' ' || scopes FROM grants`,
			`SELECT kid || ' ' || length(private_key_pem) || ' ' || algorithm FROM signing_keys`,
		} {
			rows, err := db.Query(q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				s.Rows[q] = append(s.Rows[q], line)
			}
			rows.Close()
		}
		return s
	}
	raw := rawOpen(t, path)
	before := dump(raw)
	raw.Close()
	if len(before.Rows) != 6 {
		t.Fatalf("fixture lacks rows: %v", before.Rows)
	}
	for q, lines := range before.Rows {
		if len(lines) == 0 {
			t.Fatalf("fixture has no rows for %s", q)
		}
	}

	db := openT(t, path)
	if diff := cmp.Diff(before, dump(db)); diff != "" {
		t.Errorf("Open changed the reference's file (-before +after):\n%s", diff)
	}
	if fileMode(t, path) != 0o600 {
		t.Errorf("mode = %04o after Open, want 0600", fileMode(t, path))
	}
}

func TestAdoptLegacyOurs(t *testing.T) {
	for _, fixture := range []string{
		"legacy-ours.db",
		// The same file after the reference tried to open it: its
		// migration 1 failed, leaving an empty schema_version behind.
		"ref-on-legacy-ours.db",
	} {
		t.Run(fixture, func(t *testing.T) {
			path := copyFixture(t, fixture)
			rows := func(db *sql.DB) []string {
				var out []string
				for _, q := range []string{
					`SELECT kid || ' ' || public_key_pem || ' ' || private_key_pem || ' ' || created_at || ' ' || COALESCE(retired_at, '-') FROM signing_keys`,
					`SELECT jti || ' ' || client_id || ' ' || scopes || ' ' || expires_at || ' ' || created_at || ' ' ||
					   COALESCE(revoked_at, '-') || ' ' || created_via || ' ' || subject FROM tokens`,
				} {
					r, err := db.Query(q)
					if err != nil {
						t.Fatal(err)
					}
					for r.Next() {
						var s string
						if err := r.Scan(&s); err != nil {
							t.Fatal(err)
						}
						out = append(out, s)
					}
					r.Close()
				}
				return out
			}
			raw := rawOpen(t, path)
			before := rows(raw)
			raw.Close()
			if len(before) != 2 {
				t.Fatalf("fixture should hold one key and one token, has %q", before)
			}

			db := openT(t, path)
			if diff := cmp.Diff(before, rows(db)); diff != "" {
				t.Errorf("adoption lost keys or tokens (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(referenceSchema(t), schemaOf(t, db)); diff != "" {
				t.Errorf("adopted schema differs from the reference's (-ref +ours):\n%s", diff)
			}
			if diff := cmp.Diff(allVersions(), versionsT(t, db)); diff != "" {
				t.Errorf("schema_version (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefusesUnknownLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	raw := rawOpen(t, path)
	if _, err := raw.Exec(`CREATE TABLE signing_keys (kid TEXT); CREATE TABLE users (id TEXT)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if db, err := Open(context.Background(), path); err == nil {
		db.Close()
		t.Fatal("Open accepted signing_keys + users without a schema version")
	} else if !strings.Contains(err.Error(), "move it aside") {
		t.Errorf("error does not tell the operator what to do: %v", err)
	}
	// The failed migration left the file exactly as it was (not even an
	// empty schema_version: that is created inside the same transaction).
	if diff := cmp.Diff([]string{"signing_keys", "users"}, tables(t, rawOpen(t, path))); diff != "" {
		t.Errorf("tables after a refused open (-want +got):\n%s", diff)
	}
}

func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	names, err := userTables(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestNewerReferenceVersionsAreKept(t *testing.T) {
	path := copyFixture(t, "ref-populated.db")
	raw := rawOpen(t, path)
	// What a newer reference (0.7.x, migration 12) adds: a table and a version.
	if _, err := raw.Exec(`CREATE TABLE invites (code TEXT PRIMARY KEY);
INSERT INTO schema_version VALUES (12, '2026-06-01T00:00:00.000Z')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db := openT(t, path)
	if diff := cmp.Diff(append(allVersions(), 12), versionsT(t, db)); diff != "" {
		t.Errorf("schema_version (-want +got):\n%s", diff)
	}
}

func TestConcurrentFirstOpens(t *testing.T) {
	// Several processes (hub, CLI verbs) may create hub.db at once; each
	// Open has its own pool, as separate processes would.
	path := filepath.Join(t.TempDir(), "hub.db")
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			db, err := Open(context.Background(), path)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		}
	}
	db := openT(t, path)
	if diff := cmp.Diff(allVersions(), versionsT(t, db)); diff != "" {
		t.Errorf("schema_version (-want +got):\n%s", diff)
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestUpgradeOlderReferenceFile(t *testing.T) {
	// A file an older reference hub left at version 8: friend is pinned to
	// a vault through users.assigned_vault, which version 10 moves into
	// user_vaults and drops.
	path := copyFixture(t, "ref-v8.db")
	db := openT(t, path)
	if diff := cmp.Diff(allVersions(), versionsT(t, db)); diff != "" {
		t.Errorf("schema_version (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(referenceSchema(t), schemaOf(t, db)); diff != "" {
		t.Errorf("upgraded schema differs from the reference's (-ref +ours):\n%s", diff)
	}
	var got []string
	for _, q := range []string{
		`SELECT username || ' ' || password_changed || ' ' || COALESCE(totp_secret, '-') FROM users ORDER BY created_at`,
		`SELECT u.username || ' ' || v.vault_name || ' ' || v.role || ' ' || v.created_at FROM user_vaults v JOIN users u ON u.id = v.user_id`,
		`SELECT client_id || ' ' || status || ' ' || same_hub FROM clients`,
		`SELECT jti || ' ' || user_id || ' ' || family_id || ' ' || created_via FROM tokens`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		rows.Close()
	}
	want := []string{
		"owner 1 -",
		"friend 0 -",
		"friend default write 2026-03-02T12:00:00.000Z",
		"client-old approved 0",
		"jti-old 22222222-2222-4222-8222-222222222222 jti-old oauth_refresh",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows after the upgrade (-want +got):\n%s", diff)
	}
}
