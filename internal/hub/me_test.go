package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/sessions"
)

// TestMe: GET /api/me's bodies. A session gets the reference's shape and
// the CSRF token (its cookie minted when missing, kept when present); a
// hub-audience bearer is answered for its sub, by username when it names
// a user; a bad bearer is a 401 even beside a live session cookie.
func TestMe(t *testing.T) {
	hp := newHubParts(t, Origins{Port: routerPort}, Limits{})
	ctx := context.Background()
	db := hp.openDB(t)
	env := map[string]string{"PARACHUTE_INITIAL_ADMIN_USERNAME": "alice", "PARACHUTE_INITIAL_ADMIN_PASSWORD": "correct horse battery"}
	var logs bytes.Buffer
	pages, err := buildWeb(ctx, db, hp.store, hp.origins, func(k string) string { return env[k] }, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	hp.s.SetWeb(pages)
	alice, err := pages.accounts.ByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := pages.sessions.Create(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	hubTok, err := hp.store.Mint(ctx, auth.Claims{Issuer: hp.origins.Issuer(), Subject: alice.ID, Audience: auth.HubAudience,
		ExpiresAt: time.Now().Add(time.Hour).Unix(), Scope: "hub:admin", ClientID: "c1"})
	if err != nil {
		t.Fatal(err)
	}

	me := func(bearer string, cookies ...*http.Cookie) (*httptest.ResponseRecorder, api.MeResponse) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		r.Host = routerHost
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		hp.s.ServeHTTP(w, r)
		var out api.MeResponse
		if w.Code == http.StatusOK {
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("%v: %s", err, w.Body)
			}
		}
		return w, out
	}
	session := &http.Cookie{Name: sessions.SessionCookie, Value: raw}

	if w, out := me(""); w.Code != 200 || out.HasSession || out.User != nil || out.CSRF != "" || len(w.Result().Cookies()) != 0 {
		t.Errorf("nobody: %d %+v %v", w.Code, out, w.Result().Cookies())
	}
	if w, out := me("", &http.Cookie{Name: sessions.SessionCookie, Value: "forged"}); w.Code != 200 || out.HasSession {
		t.Errorf("forged session cookie: %d %+v", w.Code, out)
	}

	w, out := me("", session)
	minted := setCookie(w, sessions.CSRFCookie)
	if w.Code != 200 || !out.HasSession || out.Via != "session" || out.User == nil || out.User.ID != alice.ID ||
		out.User.DisplayName != "alice" || out.CSRF == "" || minted == nil || minted.Value != out.CSRF || !minted.HttpOnly {
		t.Fatalf("session: %d %+v, CSRF cookie %v", w.Code, out, minted)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	if w, out := me("", session, minted); out.CSRF != minted.Value || len(w.Result().Cookies()) != 0 {
		t.Errorf("an existing CSRF cookie: %+v, Set-Cookie %v; want it echoed, not replaced", out, w.Result().Cookies())
	}

	if w, out := me(hubTok); w.Code != 200 || out.HasSession || out.Via != "bearer" || out.User == nil ||
		out.User.DisplayName != "alice" || out.ClientID != "c1" || len(out.Scopes) != 1 || out.CSRF != "" {
		t.Errorf("hub bearer: %d %+v", w.Code, out)
	}
	if w, out := me(hp.token); w.Code != 200 || out.User == nil || out.User.ID != auth.OperatorSubject || out.User.DisplayName != auth.OperatorSubject {
		t.Errorf("operator bearer: %d %+v", w.Code, out)
	}
	if w, _ := me("not-a-jwt", session); w.Code != http.StatusUnauthorized {
		t.Errorf("bad bearer beside a live session: %d, want 401 (no fallback to the cookie)", w.Code)
	}
}
