package hub

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/sessions"
)

// browserAccept is what Firefox sends on a navigation or a form post.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// TestSetupGateThroughTheRouter: on a hub with no user, the routes that
// need one send a browser to /admin/setup and answer an API client the
// reference's 503 setup_required, and the discovery page funnels a browser
// to /admin/setup; the setup page, the other OAuth endpoints, /account/
// (via /login), /api and the discovery JSON are not gated;
// once /admin/setup/account makes the admin every route behaves normally.
func TestSetupGateThroughTheRouter(t *testing.T) {
	hp := newHubParts(t, Origins{Port: routerPort}, Limits{})
	ctx := context.Background()
	db := hp.openDB(t)
	pages, err := buildWeb(ctx, db, hp.store, hp.origins, func(string) string { return "" }, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	hp.s.SetWeb(pages)

	// An approved client, registered with the operator token before any
	// account exists (DCR is not gated, as in the reference).
	w := serveReq(hp, "POST", "/oauth/register", `{"redirect_uris":["http://127.0.0.1:9/cb"],"client_name":"CLI"}`,
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + hp.token})
	var client struct {
		ID     string `json:"client_id"`
		Status string `json:"status"`
	}
	if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &client) != nil || client.Status != "approved" {
		t.Fatalf("operator DCR before the admin: %d %s", w.Code, w.Body.String())
	}
	authorize := "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {client.ID},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "scope": {"vault:default:read"}, "state": {"s"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode()
	browser := map[string]string{"Accept": browserAccept}
	form := map[string]string{"Accept": browserAccept, "Content-Type": "application/x-www-form-urlencoded"}
	api := map[string]string{"Accept": "application/json"}

	type check struct {
		name, method, path string
		headers            map[string]string
		code               int
		location           string // prefix; "" for none
		setupJSON          bool   // the 503 setup_required body
	}
	run := func(t *testing.T, checks []check) {
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				w := serveReq(hp, c.method, c.path, "", c.headers)
				loc := w.Header().Get("Location")
				if w.Code != c.code || (c.location == "") != (loc == "") || !strings.HasPrefix(loc, c.location) {
					t.Fatalf("%s %s: %d → %q, want %d → %q: %.200s", c.method, c.path, w.Code, loc, c.code, c.location, w.Body.String())
				}
				if c.setupJSON || c.location == "/admin/setup" {
					if w.Header().Get("Cache-Control") != "no-store" {
						t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
					}
				}
				var body struct{ Error, SetupURL string }
				_ = json.Unmarshal(w.Body.Bytes(), &struct {
					Error    *string `json:"error"`
					SetupURL *string `json:"setup_url"`
				}{&body.Error, &body.SetupURL})
				if gotSetup := body.Error == "setup_required"; gotSetup != c.setupJSON ||
					(c.setupJSON && (body.SetupURL != "/admin/setup" || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json"))) {
					t.Errorf("body %s (Content-Type %q), want setup_required: %v", w.Body.String(), w.Header().Get("Content-Type"), c.setupJSON)
				}
			})
		}
	}

	t.Run("before the admin", func(t *testing.T) {
		run(t, []check{
			{"login page, browser", "GET", "/login", browser, 302, "/admin/setup", false},
			{"login page, API client", "GET", "/login", api, 503, "", true},
			{"login page, no Accept", "GET", "/login", nil, 503, "", true},
			{"login post, browser", "POST", "/login", form, 303, "/admin/setup", false},
			{"second factor post, browser", "POST", "/login/2fa", form, 303, "/admin/setup", false},
			{"logout, API client", "POST", "/logout", api, 503, "", true},
			{"authorize, browser", "GET", authorize, browser, 302, "/admin/setup", false},
			{"authorize, API client", "GET", authorize, api, 503, "", true},
			{"consent post, browser", "POST", "/oauth/authorize", form, 303, "/admin/setup", false},
			// Not gated: the setup page itself, /account/ (on to /login,
			// which the gate sends on), the token endpoint, /api, health.
			{"setup page", "GET", "/admin/setup", browser, 200, "", false},
			{"account", "GET", "/account/", browser, 303, "/login?next=", false},
			{"token", "POST", "/oauth/token", form, 400, "", false},
			{"api me", "GET", "/api/me", api, 200, "", false},
			{"health", "GET", "/health", api, 200, "", false},
			// The reference's fresh-hub funnel: the discovery page.
			{"discovery page, browser", "GET", "/", browser, 302, "/admin/setup", false},
			{"hub.html", "GET", "/hub.html", nil, 302, "/admin/setup", false},
			{"root, API client", "GET", "/", api, 200, "", false},
		})
	})
	if t.Failed() {
		return
	}

	// The wizard's account step, as a browser does it.
	w = serveReq(hp, "GET", "/admin/setup", "", browser)
	csrf := setCookie(w, sessions.CSRFCookie)
	if csrf == nil {
		t.Fatal("no CSRF cookie from /admin/setup")
	}
	req := setupClaim(pages.bootstrap.Token(), csrf)
	req.Header.Set("Accept", browserAccept)
	w = httptest.NewRecorder()
	hp.s.ServeHTTP(w, req)
	if w.Code != http.StatusFound {
		t.Fatalf("claim: %d %s", w.Code, w.Body.String())
	}

	t.Run("after the admin", func(t *testing.T) {
		run(t, []check{
			{"login page, browser", "GET", "/login", browser, 200, "", false},
			{"login page, API client", "GET", "/login", api, 200, "", false},
			{"login post without CSRF", "POST", "/login", form, 403, "", false},
			{"logout without CSRF", "POST", "/logout", form, 403, "", false},
			{"authorize, signed out", "GET", authorize, browser, 302, "/login?next=", false},
			{"setup page sends on", "GET", "/admin/setup", browser, 302, "/login", false},
			{"account", "GET", "/account/", browser, 303, "/login?next=", false},
			{"discovery page", "GET", "/", browser, 200, "", false},
			{"hub.html", "GET", "/hub.html", nil, 200, "", false},
		})
	})
}

// serveReq sends one request through the hub's router in process.
func serveReq(hp *hubParts, method, path, body string, headers map[string]string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://127.0.0.1"+path, rd)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	hp.s.ServeHTTP(w, req)
	return w
}

// setCookie is the last cookie named name that w's response sets, or nil.
func setCookie(w *httptest.ResponseRecorder, name string) *http.Cookie {
	var found *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			found = c
		}
	}
	return found
}

// setupClaim is the wizard's account step as its form posts it: the
// bootstrap token, the owner "owner" with a password, and the CSRF pair.
func setupClaim(bootstrap string, csrf *http.Cookie) *http.Request {
	form := url.Values{"bootstrap_token": {bootstrap}, "username": {"owner"},
		"password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}, sessions.CSRFField: {csrf.Value}}
	req := httptest.NewRequest("POST", "http://127.0.0.1/admin/setup/account", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrf)
	return req
}
