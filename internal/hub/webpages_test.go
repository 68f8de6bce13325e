package hub

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/sessions"
	"github.com/openparachute/parachute/internal/web"
)

func TestWebPagesRoutedAfterHubDBOpens(t *testing.T) {
	hp := newHubParts(t, Origins{Port: routerPort}, Limits{})
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		hp.s.ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1/"+path[1:], nil))
		return w
	}
	if w := get("/login"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("/login before SetWeb: %d", w.Code)
	}
	db, err := hubdb.Open(context.Background(), hp.paths.HubDB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var logs bytes.Buffer
	pages, err := buildWeb(context.Background(), db, hp.store, hp.origins, func(string) string { return "" }, nil,
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hp.s.SetWeb(pages)
	// No user yet: /login answers the setup gate's 503 (still a page of
	// package web, with its headers); TestSetupGateThroughTheRouter has the rest.
	for path, want := range map[string]int{"/login": 503, "/account/": 303, "/account": 301, "/static/hub.css": 200} {
		w := get(path)
		if w.Code != want || w.Header().Get("Content-Security-Policy") != web.ContentSecurityPolicy {
			t.Errorf("%s: %d (want %d), CSP %q", path, w.Code, want, w.Header().Get("Content-Security-Policy"))
		}
	}
	// No user and no seed: the one-time token is in the log, and only there.
	m := regexp.MustCompile(`\[wizard\].*(parachute-bootstrap-[A-Za-z0-9_-]{43})`).FindStringSubmatch(logs.String())
	if m == nil || pages.bootstrap == nil || pages.bootstrap.Token() != m[1] {
		t.Fatalf("bootstrap banner missing: %s", logs.String())
	}
	if _, err := pages.bootstrap.Claim(context.Background(), m[1], "alice", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
}

func TestSeededAdminSkipsTheBootstrapToken(t *testing.T) {
	hp := newHubParts(t, Origins{Port: routerPort}, Limits{})
	db, err := hubdb.Open(context.Background(), hp.paths.HubDB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	env := map[string]string{"PARACHUTE_INITIAL_ADMIN_USERNAME": "alice", "PARACHUTE_INITIAL_ADMIN_PASSWORD": "correct horse battery"}
	var logs bytes.Buffer
	pages, err := buildWeb(context.Background(), db, hp.store, hp.origins, func(k string) string { return env[k] }, nil,
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if pages.bootstrap != nil || bytes.Contains(logs.Bytes(), []byte("parachute-bootstrap-")) {
		t.Errorf("bootstrap token minted although the admin was seeded: %s", logs.String())
	}
	if n, _ := pages.accounts.Count(context.Background()); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

// TestSetupWizardRoutedToWeb: /admin/setup and /admin/setup/account reach
// package web through the hub's router (not the module proxy), and a
// claim there makes the admin, signs them in and writes the operator
// token the CLI needs when the hub had none.
func TestSetupWizardRoutedToWeb(t *testing.T) {
	hp := newHubParts(t, Origins{Port: routerPort}, Limits{})
	ctx := context.Background()
	db := hp.openDB(t)
	// As if openAuth could not write it at start.
	if err := os.Remove(hp.paths.OperatorToken()); err != nil {
		t.Fatal(err)
	}
	opToken := func(ctx context.Context) (bool, error) {
		return hp.store.EnsureOperatorToken(ctx, hp.paths.OperatorToken(), hp.origins.StableIssuer())
	}
	var logs bytes.Buffer
	pages, err := buildWeb(ctx, db, hp.store, hp.origins, func(string) string { return "" }, opToken,
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hp.s.SetWeb(pages)
	if !strings.Contains(logs.String(), hp.origins.Issuer()+"/admin/setup and paste this token") {
		t.Errorf("banner does not name the setup page: %s", logs.String())
	}
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		hp.s.ServeHTTP(w, r)
		return w
	}
	w := serve(httptest.NewRequest("GET", "http://127.0.0.1/admin/setup", nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Security-Policy") != web.ContentSecurityPolicy ||
		!strings.Contains(w.Body.String(), `name="bootstrap_token"`) {
		t.Fatalf("GET /admin/setup: %d: %s", w.Code, w.Body.String())
	}
	csrf := setCookie(w, sessions.CSRFCookie)
	if csrf == nil {
		t.Fatal("no CSRF cookie")
	}
	req := setupClaim(pages.bootstrap.Token(), csrf)
	w = serve(req)
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/admin/setup" {
		t.Fatalf("claim: %d → %q: %s", w.Code, w.Header().Get("Location"), w.Body.String())
	}
	session := setCookie(w, sessions.SessionCookie)
	if session == nil {
		t.Fatal("claim set no session cookie")
	}
	req = httptest.NewRequest("GET", "http://127.0.0.1/account/", nil)
	req.AddCookie(session)
	if w := serve(req); w.Code != http.StatusOK {
		t.Errorf("/account/ with the new session: %d", w.Code)
	}
	fi, err := os.Lstat(hp.paths.OperatorToken())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("operator.token after the claim: %v %v", fi, err)
	}
}
