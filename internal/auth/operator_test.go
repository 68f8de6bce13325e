package auth

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/testenv"

	"github.com/google/go-cmp/cmp"
	"github.com/openparachute/parachute/internal/hubdb"
)

func TestMintOperatorClaimsAndRegistry(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := fixedClock(s, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	tests := []struct {
		scopeSet  string
		wantSet   string
		wantScope string
	}{
		{"", "admin", "hub:admin parachute:host:admin parachute:host:install parachute:host:start parachute:host:expose parachute:host:auth parachute:host:vault vault:admin scribe:admin channel:send"},
		{"install", "install", "parachute:host:install vault:read"},
		{"start", "start", "parachute:host:start"},
		{"expose", "expose", "parachute:host:expose"},
		{"auth", "auth", "parachute:host:auth"},
		{"vault", "vault", "parachute:host:vault"},
	}
	for _, tc := range tests {
		t.Run("set "+tc.wantSet, func(t *testing.T) {
			tok, c, err := s.MintOperator(ctx, testIssuer+"/", tc.scopeSet)
			if err != nil {
				t.Fatal(err)
			}
			// The exact payload, as a module would decode it.
			pb, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
			var got map[string]any
			if err := json.Unmarshal(pb, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"iss": testIssuer, "sub": "operator", "aud": "operator",
				"iat": float64(now.Unix()), "exp": float64(now.Add(90 * 24 * time.Hour).Unix()),
				"jti": c.JTI, "scope": tc.wantScope, "client_id": "parachute-hub",
				"vault_scope": []any{}, "pa_scope_set": tc.wantSet,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			if raw, err := base64.RawURLEncoding.DecodeString(c.JTI); err != nil || len(raw) != 16 {
				t.Errorf("jti %q is not 16 bytes base64url", c.JTI)
			}

			var row struct {
				userID                                                  sql.NullString
				clientID, scopes, expires, created, createdVia, subject string
				revoked                                                 sql.NullString
			}
			err = s.db.QueryRow(`SELECT user_id, client_id, scopes, expires_at, created_at, created_via, subject, revoked_at
				FROM tokens WHERE jti = ?`, c.JTI).Scan(&row.userID, &row.clientID, &row.scopes, &row.expires,
				&row.created, &row.createdVia, &row.subject, &row.revoked)
			if err != nil {
				t.Fatalf("registry row: %v", err)
			}
			gotRow := []any{row.userID.Valid, row.clientID, row.scopes, row.expires, row.created, row.createdVia, row.subject, row.revoked.Valid}
			wantRow := []any{false, "parachute-hub", tc.wantScope, "2026-05-30T12:00:00.000Z", "2026-03-01T12:00:00.000Z", "operator_mint", "operator", false}
			if diff := cmp.Diff(wantRow, gotRow); diff != "" {
				t.Errorf("registry row (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("unknown set", func(t *testing.T) {
		if _, _, err := s.MintOperator(ctx, testIssuer, "root"); !errors.Is(err, ErrUnknownScopeSet) {
			t.Errorf("err = %v, want ErrUnknownScopeSet", err)
		}
	})
	t.Run("no issuer", func(t *testing.T) {
		if _, _, err := s.MintOperator(ctx, "", ""); err == nil {
			t.Error("minted without an issuer")
		}
	})
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := fixedClock(s, time.Now())
	tok, c, err := s.MintOperator(ctx, testIssuer, "")
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Issuers: []string{testIssuer}}
	if _, err := s.Verify(ctx, tok, opts); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, c.JTI); err != nil {
		t.Fatal(err)
	}
	fixedClock(s, now.Add(time.Hour))
	if err := s.Revoke(ctx, c.JTI); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	var revokedAt string
	s.db.QueryRow(`SELECT revoked_at FROM tokens WHERE jti = ?`, c.JTI).Scan(&revokedAt)
	if revokedAt != hubdb.FormatTime(now) {
		t.Errorf("revoked_at = %s, want the first revocation %s", revokedAt, hubdb.FormatTime(now))
	}
	if _, err := s.Verify(ctx, tok, opts); !errors.Is(err, ErrRevoked) {
		t.Errorf("Verify after revoke: %v, want ErrRevoked", err)
	}
	if err := s.Revoke(ctx, "no-such-jti"); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("Revoke(unknown) = %v, want ErrUnknownToken", err)
	}
	jtis, err := s.RevokedJTIs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{c.JTI}, jtis); diff != "" {
		t.Errorf("RevokedJTIs (-want +got):\n%s", diff)
	}
	fixedClock(s, now.Add(OperatorTTL+time.Hour))
	if jtis, _ := s.RevokedJTIs(ctx); len(jtis) != 0 {
		t.Errorf("RevokedJTIs after expiry = %v, want none", jtis)
	}
}

func TestTokenFileWriteRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "operator.token")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteTokenFile(path, "a.b.c"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "a.b.c\n" {
		t.Errorf("content = %q, want token plus newline", b)
	}
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("mode = %04o, want 0600 (replacing a 0644 file)", m)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the token (no temp files left)", len(ents))
	}
	if err := WriteTokenFile(path, "two\nlines"); err == nil {
		t.Error("wrote a multi-line token")
	}
	// The never-overwrite write EnsureOperatorToken relies on.
	if err := writeTokenFile(path, "x.y.z", true); !errors.Is(err, fs.ErrExist) {
		t.Errorf("exclusive write over an existing file: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "a.b.c\n" {
		t.Errorf("exclusive write changed the file to %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after a refused write, want 1", len(ents))
	}

	tests := []struct {
		name     string
		content  string
		mode     os.FileMode
		wantTok  string
		wantWarn bool
	}{
		{"0600", "  tok.en  \n\n", 0o600, "tok.en", false},
		{"0640 group read is deliberate", "tok", 0o640, "tok", false},
		{"0644 others read", "tok", 0o644, "tok", true},
		{"0660 group write", "tok", 0o660, "tok", true},
		{"0604 others read only", "tok", 0o604, "tok", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "operator.token")
			os.WriteFile(p, []byte(tc.content), 0o600)
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			tok, warn, err := ReadTokenFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if tok != tc.wantTok {
				t.Errorf("token = %q, want %q", tok, tc.wantTok)
			}
			if (warn != "") != tc.wantWarn {
				t.Errorf("warn = %q, want a warning: %v", warn, tc.wantWarn)
			}
			if warn != "" && !strings.Contains(warn, "chmod 0600 "+p) {
				t.Errorf("warn %q does not say `chmod 0600 %s`", warn, p)
			}
		})
	}
	for _, tc := range []struct{ name, content string }{{"missing", ""}, {"empty", " \n"}} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "operator.token")
			if tc.name == "empty" {
				os.WriteFile(p, []byte(tc.content), 0o600)
			}
			_, _, err := ReadTokenFile(p)
			if !errors.Is(err, config.ErrNoOperatorToken) {
				t.Fatalf("err = %v, want ErrNoOperatorToken", err)
			}
			want := "no operator token at " + p
			if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "run `parachute auth rotate-operator` to mint one") {
				t.Errorf("message %q, want %q… — run `parachute auth rotate-operator` to mint one", err, want)
			}
		})
	}
}

func TestWriteTokenFileKeepsGroupRead(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root to give the file a foreign group (as the system package does)")
	}
	path := filepath.Join(t.TempDir(), "operator.token")
	if err := WriteTokenFile(path, "one"); err != nil {
		t.Fatal(err)
	}
	const gid = 4242
	if err := os.Chown(path, -1, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteTokenFile(path, "two"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := fileGID(fi); fi.Mode().Perm() != 0o640 || g != gid {
		t.Errorf("after rewrite: mode %04o gid %d, want 0640 gid %d", fi.Mode().Perm(), g, gid)
	}
}

func TestEnsureOperatorToken(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	path := filepath.Join(t.TempDir(), "operator.token")
	created, err := s.EnsureOperatorToken(ctx, path, testIssuer)
	if err != nil || !created {
		t.Fatalf("EnsureOperatorToken on a missing file = %v, %v; want created", created, err)
	}
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("mode = %04o, want 0600", m)
	}
	first, _, err := ReadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(ctx, first, VerifyOptions{Issuers: []string{testIssuer}})
	if err != nil {
		t.Fatal(err)
	}
	if c.ScopeSet != DefaultScopeSet || !c.HasScope("parachute:host:admin") {
		t.Errorf("claims = %+v, want the admin set", c)
	}
	created, err = s.EnsureOperatorToken(ctx, path, "https://other.example")
	if err != nil || created {
		t.Errorf("EnsureOperatorToken on an existing file = %v, %v; want untouched", created, err)
	}
	if again, _, _ := ReadTokenFile(path); again != first {
		t.Error("existing token was overwritten")
	}
}

func TestEnsureOperatorTokenRace(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	path := filepath.Join(t.TempDir(), "operator.token")
	const n = 4
	start := make(chan struct{})
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			created[i], errs[i] = s.EnsureOperatorToken(ctx, path, testIssuer)
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
		}
		if created[i] {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%d callers created the token, want exactly 1", wins)
	}
	tok, _, err := ReadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, tok, VerifyOptions{Issuers: []string{testIssuer}}); err != nil {
		t.Errorf("the surviving token does not verify: %v", err)
	}
	var live int
	s.db.QueryRow(`SELECT count(*) FROM tokens WHERE revoked_at IS NULL AND created_via = 'operator_mint'`).Scan(&live)
	if live != 1 {
		t.Errorf("%d unrevoked operator tokens in the registry, want 1 (losers revoke theirs)", live)
	}
}

func TestRotateOperator(t *testing.T) {
	ctx := context.Background()
	opts := VerifyOptions{Issuers: []string{testIssuer}}
	tests := []struct {
		name string
		// old writes the file before rotation and returns the token it
		// holds ("" when there is none to revoke).
		old func(t *testing.T, s *Store, path string) string
	}{
		{"no file", func(*testing.T, *Store, string) string { return "" }},
		{"garbage file", func(t *testing.T, _ *Store, path string) string {
			os.WriteFile(path, []byte("not a jwt\n"), 0o600)
			return ""
		}},
		{"registered token", func(t *testing.T, s *Store, path string) string {
			tok, _, err := s.MintOperator(ctx, testIssuer, "admin")
			if err != nil {
				t.Fatal(err)
			}
			WriteTokenFile(path, tok)
			return tok
		}},
		{"token minted before the registry", func(t *testing.T, s *Store, path string) string {
			k, _ := s.EnsureSigningKey(ctx)
			tok := signRaw(t, s, `{"alg":"RS256","kid":"`+k.KID+`"}`,
				`{"iss":"`+testIssuer+`","sub":"user-1","aud":"operator","exp":4102444800,"iat":1700000000,"jti":"pre-registry","scope":"hub:admin","pa_scope_set":"admin"}`)
			WriteTokenFile(path, tok)
			return tok
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			path := filepath.Join(t.TempDir(), "operator.token")
			old := tc.old(t, s, path)
			if old != "" {
				if _, err := s.Verify(ctx, old, opts); err != nil {
					t.Fatalf("old token should verify before rotation: %v", err)
				}
			}
			tok, err := s.RotateOperator(ctx, path, testIssuer, "start")
			if err != nil {
				t.Fatal(err)
			}
			onDisk, _, err := ReadTokenFile(path)
			if err != nil || onDisk != tok {
				t.Fatalf("file holds %q (%v), want the new token", onDisk, err)
			}
			if m := fileMode(t, path); m != 0o600 {
				t.Errorf("mode = %04o, want 0600", m)
			}
			c, err := s.Verify(ctx, tok, opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.ScopeSet != "start" || c.Scope != "parachute:host:start" {
				t.Errorf("new token set %q scope %q, want start", c.ScopeSet, c.Scope)
			}
			if old != "" {
				if _, err := s.Verify(ctx, old, opts); !errors.Is(err, ErrRevoked) {
					t.Errorf("old token after rotation: %v, want ErrRevoked", err)
				}
			}
		})
	}
}
