package hub

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/openparachute/parachute/internal/hubdb"
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
	pages, err := buildWeb(context.Background(), db, hp.store, hp.origins, func(string) string { return "" },
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hp.s.SetWeb(pages)
	for path, want := range map[string]int{"/login": 200, "/account/": 303, "/account": 301, "/static/hub.css": 200} {
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
	pages, err := buildWeb(context.Background(), db, hp.store, hp.origins, func(k string) string { return env[k] },
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
