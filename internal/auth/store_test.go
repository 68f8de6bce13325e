package auth

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOpenFileModes(t *testing.T) {
	tests := []struct {
		name string
		// prepare makes the file (and its -wal) before Open, or nothing.
		prepare func(t *testing.T, path string)
	}{
		{name: "new file", prepare: func(*testing.T, string) {}},
		{name: "existing 0644 db and wal", prepare: func(t *testing.T, path string) {
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			// The reference left files at the umask default. An empty
			// -wal stands in for one left behind by a crashed hub.
			if err := os.WriteFile(path+"-wal", nil, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal"} {
				if err := os.Chmod(p, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "hub.db")
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			tc.prepare(t, path)
			s, err := Open(path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if _, err := s.EnsureSigningKey(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				// -wal and -shm exist while a connection is open: SQLite
				// must have created them with hub.db's mode.
				if m := fileMode(t, p); m != 0o600 {
					t.Errorf("%s mode = %04o, want 0600", filepath.Base(p), m)
				}
			}
			var mode string
			if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if mode != "wal" {
				t.Errorf("journal_mode = %q, want wal", mode)
			}
		})
	}
}

// refKID is the signing key the reference hub generated in
// ../hubdb/testdata/ref-populated.db (see the README there), and refOwner
// its first user.
const (
	refKID   = "8XXbm3LnkWTi5ctzj44ZTDn7zZ71UXOknoopbC0eD7E"
	refOwner = "e2e46f8f-d238-4180-9a5c-dd072f9f7b73"
)

// copyReferenceDB copies the hub.db the reference hub's own code made
// (schema v11: two users, a client, a grant, a key) into a temp dir.
func copyReferenceDB(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "hubdb", "testdata", "ref-populated.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hub.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenReferenceDatabase(t *testing.T) {
	ctx := context.Background()
	path := copyReferenceDB(t)
	if err := os.Chmod(path, 0o644); err != nil { // the reference's umask default
		t.Fatal(err)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("hub.db mode = %04o after Open, want 0600", m)
	}
	var users []string
	rows, err := s.db.Query(`SELECT username FROM users ORDER BY username`)
	if err != nil {
		t.Fatalf("users table gone: %v", err)
	}
	for rows.Next() {
		var u string
		rows.Scan(&u)
		users = append(users, u)
	}
	rows.Close()
	if diff := cmp.Diff([]string{"friend", "owner"}, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	var versions, maxVersion int
	if err := s.db.QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&versions, &maxVersion); err != nil ||
		versions != 11 || maxVersion != 11 {
		t.Errorf("schema_version: %d rows up to %d, %v; want 11 up to 11", versions, maxVersion, err)
	}

	k, err := s.EnsureSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k.KID != refKID {
		t.Errorf("EnsureSigningKey kid = %s, want the reference's existing key %s", k.KID, refKID)
	}

	// A token the reference minted (header without typ, sub = user id)
	// keeps verifying, and the registry accepts our rows next to the FK.
	refTok := signRaw(t, s, `{"alg":"RS256","kid":"`+refKID+`"}`,
		`{"scope":"hub:admin parachute:host:admin","client_id":"parachute-hub","vault_scope":[],"pa_scope_set":"admin",`+
			`"sub":"`+refOwner+`","iss":"http://127.0.0.1:1939","iat":1767225600,"exp":4102444800,`+
			`"aud":"operator","jti":"ref-jti"}`)
	c, err := s.Verify(ctx, refTok, VerifyOptions{Issuers: []string{"http://127.0.0.1:1939"}})
	if err != nil {
		t.Fatalf("verifying a reference-minted token: %v", err)
	}
	if !c.HasScope("parachute:host:admin") || c.ScopeSet != "admin" {
		t.Errorf("claims = %+v", c)
	}
	if _, _, err := s.MintOperator(ctx, "http://127.0.0.1:1939", ""); err != nil {
		t.Errorf("MintOperator on a reference db: %v", err)
	}
}

func TestOpenRecordsSchemaVersions(t *testing.T) {
	// Without recorded versions the reference's migrator re-runs its
	// migration 1 on our file and fails ("table signing_keys already
	// exists"), so rolling back to it meant deleting hub.db.
	s, err := Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n, maxVersion int
	if err := s.db.QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&n, &maxVersion); err != nil {
		t.Fatalf("reading schema_version: %v", err)
	}
	if n != 11 || maxVersion != 11 {
		t.Errorf("schema_version has %d rows up to %d, want versions 1..11", n, maxVersion)
	}
}

func TestEnsureSigningKeyGoroutineRace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	var stores []*Store
	for range 2 {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	const n = 4
	start := make(chan struct{})
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			k, err := stores[i%2].EnsureSigningKey(ctx)
			errs[i] = err
			if err == nil {
				kids[i] = k.KID
			}
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	for i := range kids {
		if kids[i] != kids[0] {
			t.Errorf("goroutines got different keys: %v", kids)
			break
		}
	}
	assertOneActiveKey(t, stores[0], kids[0])
}

func TestEnsureSigningKeyProcessRace(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary to re-exec: %v", err)
	}
	path := filepath.Join(t.TempDir(), "hub.db")
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Scanner
	}
	var children []child
	t.Cleanup(func() {
		for _, c := range children {
			if c.cmd.ProcessState == nil {
				c.cmd.Process.Kill()
				c.cmd.Wait()
			}
		}
	})
	for range 3 {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), helperEnv+"=ensure-key", "PARACHUTE_AUTH_TEST_DB="+path)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, child{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)})
	}
	// Every child has the database open before any of them races.
	for i, c := range children {
		if !c.out.Scan() || c.out.Text() != "ready" {
			t.Fatalf("child %d did not report ready: %q %v", i, c.out.Text(), c.out.Err())
		}
	}
	for _, c := range children {
		c.stdin.Close()
	}
	var kids []string
	for i, c := range children {
		if !c.out.Scan() {
			t.Fatalf("child %d printed no kid: %v", i, c.out.Err())
		}
		kids = append(kids, strings.TrimSpace(c.out.Text()))
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	for i := range kids {
		if kids[i] != kids[0] {
			t.Errorf("processes got different keys: %v", kids)
			break
		}
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	assertOneActiveKey(t, s, kids[0])
}

func assertOneActiveKey(t *testing.T, s *Store, wantKID string) {
	t.Helper()
	var kids []string
	rows, err := s.db.Query(`SELECT kid FROM signing_keys WHERE retired_at IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		rows.Scan(&k)
		kids = append(kids, k)
	}
	if diff := cmp.Diff([]string{wantKID}, kids); diff != "" {
		t.Errorf("active keys (-want +got):\n%s", diff)
	}
}

func TestRotateSigningKey(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	old, err := s.EnsureSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldTok, err := s.Mint(ctx, Claims{Issuer: "http://127.0.0.1:1939", Subject: "x", ExpiresAt: s.now().Add(OperatorTTL).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	nk, err := s.RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if nk.KID == old.KID {
		t.Fatal("rotation kept the same kid")
	}
	assertOneActiveKey(t, s, nk.KID)
	if got, err := s.EnsureSigningKey(ctx); err != nil || got.KID != nk.KID {
		t.Errorf("EnsureSigningKey after rotation = %v, %v; want %s", got, err, nk.KID)
	}
	opts := VerifyOptions{Issuers: []string{"http://127.0.0.1:1939"}}
	if _, err := s.Verify(ctx, oldTok, opts); err != nil {
		t.Errorf("token of a key retired just now: %v", err)
	}
	opts.Now = s.now().Add(KeyRetention + time.Minute)
	if _, err := s.Verify(ctx, oldTok, opts); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token of a key retired > 24 h ago: err = %v, want ErrInvalidToken", err)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// A burst of concurrent database work must not open a connection (three
// descriptors) per request: the pool is bounded.
func TestStorePoolIsBounded(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Hold a connection across a query so the burst overlaps.
			rows, err := s.db.QueryContext(ctx, "SELECT 1 FROM sqlite_master")
			if err != nil {
				t.Error(err)
				return
			}
			for rows.Next() {
			}
			rows.Close()
		}()
	}
	close(start)
	wg.Wait()
	st := s.db.Stats()
	if st.MaxOpenConnections != maxDBConns || st.OpenConnections > maxDBConns {
		t.Fatalf("pool: max %d, open %d; want at most %d", st.MaxOpenConnections, st.OpenConnections, maxDBConns)
	}
}
