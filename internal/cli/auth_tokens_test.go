package cli

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hub"
	"github.com/openparachute/parachute/internal/oauth"
	"github.com/openparachute/parachute/internal/supervisor"
	"github.com/openparachute/parachute/internal/testenv"
)

// registryHub serves a real in-process hub (real hub.db, real operator
// token in the config root) and points the CLI at it with
// PARACHUTE_HUB_URL.
func registryHub(t *testing.T) (*auth.Store, []string) {
	t.Helper()
	testenv.NoLeaks(t, "spawnLoop")
	root := t.TempDir()
	t.Setenv("PARACHUTE_HOME", root)
	p := config.Paths{Root: root}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origins := hub.Origins{Port: ln.Addr().(*net.TCPAddr).Port}
	ctx := context.Background()
	store, err := auth.Open(p.HubDB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnsureOperatorToken(ctx, p.OperatorToken(), origins.Issuer()); err != nil {
		t.Fatal(err)
	}
	sup := supervisor.New(supervisor.Options{LogDir: p.ModuleLogDir, RunDir: p.ModuleRunDir})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sup.Shutdown(ctx)
	})
	s := hub.New(hub.Options{Paths: p, Supervisor: sup, Auth: store, Origins: origins, Version: "test", Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	t.Setenv("PARACHUTE_HUB_URL", srv.URL)
	return store, origins.Accepted()
}

func TestAuthRegistryVerbs(t *testing.T) {
	store, issuers := registryHub(t)
	ctx := context.Background()
	db := store.DB()

	// mint-token → list-tokens → revoke-token (idempotent) → listed revoked.
	code, tok, errOut := runCLI(t, "auth", "mint-token", "--scope", "vault:default:read", "--sub", "backup")
	if code != 0 {
		t.Fatalf("mint-token: %d %s", code, errOut)
	}
	c, err := store.Verify(ctx, strings.TrimSpace(tok), auth.VerifyOptions{Issuers: issuers, Audiences: []string{"vault.default"}})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "auth", "list-tokens", "--subject", "backup")
	if code != 0 || !strings.Contains(out, c.JTI) || !strings.Contains(out, "vault:default:read") || strings.Contains(out, strings.TrimSpace(tok)) {
		t.Fatalf("list-tokens: %d\n%s\n%s", code, out, errOut)
	}
	for range 2 {
		code, out, errOut = runCLI(t, "auth", "revoke-token", c.JTI)
		if code != 0 || !strings.Contains(out, "revoked "+c.JTI) {
			t.Fatalf("revoke-token: %d\n%s\n%s", code, out, errOut)
		}
	}
	if _, err := store.Verify(ctx, strings.TrimSpace(tok), auth.VerifyOptions{Issuers: issuers, Audiences: []string{"vault.default"}}); err == nil {
		t.Error("the revoked token still verifies")
	}
	code, out, _ = runCLI(t, "auth", "list-tokens", "--revoked")
	if code != 0 || !strings.Contains(out, c.JTI) {
		t.Errorf("list-tokens --revoked: %d\n%s", code, out)
	}
	code, _, errOut = runCLI(t, "auth", "revoke-token", "nope")
	if code != ExitFail || !strings.Contains(errOut, "no token nope") {
		t.Errorf("revoke-token unknown: %d %s", code, errOut)
	}

	// pending-clients → approve-client.
	now := time.Now().UTC()
	if err := oauth.SQLStore(db).CreateClient(ctx, oauth.Client{ID: "cl-1", Name: "Claude", RedirectURIs: []string{"https://claude.ai/cb"},
		Scopes: []string{"vault:default:read"}, RegisteredAt: now, Status: oauth.StatusPending}); err != nil {
		t.Fatal(err)
	}
	// Anyone may register a client: its name must not reach the terminal raw.
	if err := oauth.SQLStore(db).CreateClient(ctx, oauth.Client{ID: "cl-evil", Name: "x\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J", RedirectURIs: []string{"https://e.example/cb"},
		Scopes: []string{"vault:default:read"}, RegisteredAt: now, Status: oauth.StatusPending}); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "auth", "pending-clients")
	if code != 0 || !strings.Contains(out, "cl-1") || !strings.Contains(out, "Claude") || !strings.Contains(out, `x\x1b]52`) || strings.ContainsAny(out, "\x1b\x07") {
		t.Fatalf("pending-clients: %d\n%q", code, out)
	}
	if code, _, _ = runCLI(t, "auth", "approve-client", "cl-evil"); code != 0 {
		t.Fatal("approve-client cl-evil failed")
	}
	if code, out, errOut = runCLI(t, "auth", "approve-client", "cl-1"); code != 0 {
		t.Fatalf("approve-client: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ = runCLI(t, "auth", "pending-clients"); code != 0 || !strings.Contains(out, "no pending clients") {
		t.Errorf("pending-clients after approval: %d\n%s", code, out)
	}
	if code, _, errOut = runCLI(t, "auth", "approve-client", "nope"); code != ExitFail || !strings.Contains(errOut, "no OAuth client") {
		t.Errorf("approve-client unknown: %d %s", code, errOut)
	}

	// list-grants → revoke-grant revokes the client's tokens for the user.
	ts := now.Format("2006-01-02T15:04:05.000Z")
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES ('u1', 'alice', 'x', ?, ?)`, ts, ts); err != nil {
		t.Fatal(err)
	}
	if err := oauth.SQLStore(db).SaveGrant(ctx, "u1", "cl-1", []string{"vault:default:read"}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO tokens (jti, user_id, client_id, scopes, expires_at, created_at) VALUES ('g-jti', 'u1', 'cl-1', 'vault:default:read', ?, ?)`,
		now.Add(time.Hour).Format("2006-01-02T15:04:05.000Z"), ts); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "auth", "list-grants", "--username", "alice")
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "cl-1") {
		t.Fatalf("list-grants: %d\n%s", code, out)
	}
	if code, out, errOut = runCLI(t, "auth", "revoke-grant", "cl-1", "--username", "alice"); code != 0 {
		t.Fatalf("revoke-grant: %d\n%s\n%s", code, out, errOut)
	}
	if jtis, _ := store.RevokedJTIs(ctx); !strings.Contains(strings.Join(jtis, " "), "g-jti") {
		t.Errorf("revoked after revoke-grant: %v, want g-jti", jtis)
	}
	if code, out, _ = runCLI(t, "auth", "list-grants"); code != 0 || !strings.Contains(out, "no grants") {
		t.Errorf("list-grants after revoke: %d\n%s", code, out)
	}
	if code, _, errOut = runCLI(t, "auth", "revoke-grant", "cl-1"); code != ExitFail || !strings.Contains(errOut, "list-grants") {
		t.Errorf("revoke-grant again: %d %s", code, errOut)
	}
}

func TestAuthRegistryVerbUsage(t *testing.T) {
	root := t.TempDir()
	t.Setenv("PARACHUTE_HOME", root)
	t.Setenv("PARACHUTE_HUB_URL", "http://127.0.0.1:1") // nothing listens
	if err := os.WriteFile(filepath.Join(root, "operator.token"), []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"auth", "revoke-token"},
		{"auth", "revoke-token", "a", "b"},
		{"auth", "approve-client"},
		{"auth", "revoke-grant"},
		{"auth", "pending-clients", "x"},
		{"auth", "list-grants", "x"},
		{"auth", "list-tokens", "--revoked", "--live"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != ExitUsage {
			t.Errorf("%q = %d, want %d\n%s%s", args, code, ExitUsage, out, errOut)
		}
	}
	code, _, errOut := runCLI(t, "auth", "pending-clients")
	if code != ExitFail || !strings.Contains(errOut, "parachute start") {
		t.Errorf("pending-clients without a hub: %d %s", code, errOut)
	}
}
