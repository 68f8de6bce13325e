package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
)

// The router tests drive Server.ServeHTTP with httptest recorders: no
// listener, no binary, a whole table in well under a second. They describe
// the router's rules from the outside (status, error code, Allow, content
// type, WWW-Authenticate, the error body's members), so a refactor of the
// handlers behind them only has to keep newRouterHub building a hub. The
// e2e tests prove the same rules against the built binary.

// routerHost is the Host every router request sends unless a case says
// otherwise; the hub under test believes it is bound on routerPort.
const (
	routerPort = 1939
	routerHost = "127.0.0.1:1939"
)

// tokenKind names the Authorization header a request carries.
type tokenKind int

const (
	noToken  tokenKind = iota // no Authorization header
	garbage                   // "Bearer not-a-jwt"
	operator                  // the minted operator token (admin scope set)
	authOnly                  // an operator token of the "auth" scope set: parachute:host:auth only
	wrongAud                  // hub-signed, admin scopes, aud "vault.default"
	noJTI                     // hub-signed, operator aud and admin scope, no jti
	hubAud                    // hub-signed, aud "hub", hub:admin (what OAuth mints an admin)
)

// routerHub is a hub answering through ServeHTTP, with one token of each
// kind and two registered modules, neither running:
//   - "gone": mounted at /gone on a port nothing listens on, no installDir;
//   - "bad": mounted only under /api, so the mount rules refuse it.
//
// Any other name ("mod" in the table) is not installed.
type routerHub struct {
	*hubParts
	t      *testing.T
	tokens map[tokenKind]string
}

// newRouterHub builds the hub the router tests share; like every hub
// newHubParts builds, it ends its test with the goroutine-leak check.
func newRouterHub(t *testing.T) *routerHub {
	t.Helper()
	hp := newHubParts(t, Origins{Port: routerPort}, Limits{})
	ctx := context.Background()
	h := &routerHub{hubParts: hp, t: t, tokens: map[tokenKind]string{garbage: "not-a-jwt", operator: hp.token}}

	tok, _, err := hp.store.MintOperator(ctx, hp.origins.Issuer(), "auth")
	if err != nil {
		t.Fatal(err)
	}
	h.tokens[authOnly] = tok
	admin, err := auth.ScopeSet("admin")
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	if h.tokens[wrongAud], err = hp.store.Mint(ctx, auth.Claims{Issuer: hp.origins.Issuer(), Subject: auth.OperatorSubject,
		Audience: "vault.default", ExpiresAt: exp, Scope: admin, ClientID: auth.OperatorClientID}); err != nil {
		t.Fatal(err)
	}
	if h.tokens[hubAud], err = hp.store.Mint(ctx, auth.Claims{Issuer: hp.origins.Issuer(), Subject: "some-user",
		Audience: auth.HubAudience, ExpiresAt: exp, Scope: "hub:admin", ClientID: "some-client"}); err != nil {
		t.Fatal(err)
	}
	// Mint always fills in a jti; a token without one has to be signed by hand.
	key, err := hp.store.EnsureSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.tokens[noJTI] = signClaims(t, readPrivateKey(t, hp.paths.HubDB(), key.KID), key.KID, map[string]any{
		"iss": hp.origins.Issuer(), "sub": auth.OperatorSubject, "aud": auth.OperatorAudience, "exp": exp,
		"scope": admin, "client_id": auth.OperatorClientID})

	h.writeServices(
		map[string]any{"name": "gone", "port": freePort(t), "paths": []string{"/gone"}, "health": "/gone/health", "version": "1.0.0"},
		map[string]any{"name": "bad", "port": freePort(t), "paths": []string{"/api/bad"}, "health": "/api/bad/health", "version": "1.0.0"},
	)
	return h
}

// writeServices replaces services.json with rows.
func (h *routerHub) writeServices(rows ...map[string]any) {
	h.t.Helper()
	b, err := json.Marshal(map[string]any{"services": rows})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.paths.ServicesJSON(), b, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// routerReq is one request. Header "Host" sets the request's Host; a body
// is sent as application/json unless the header says otherwise.
type routerReq struct {
	method, path string
	tok          tokenKind
	hdr          map[string]string
	body         string
}

// routerStep is one request of a scripted sequence, the status it must
// get, and (if set) a check of the body.
type routerStep struct {
	name   string
	req    routerReq
	status int
	check  func(t *testing.T, body []byte)
}

// runSteps serves steps in order; a wrong status ends the test there.
func (h *routerHub) runSteps(steps []routerStep) {
	h.t.Helper()
	for _, s := range steps {
		w := h.do(s.req)
		if w.Code != s.status {
			h.t.Fatalf("step %q: %s %s answered %d, want %d; body %s", s.name, s.req.method, s.req.path, w.Code, s.status, w.Body)
		}
		if s.check != nil {
			s.check(h.t, w.Body.Bytes())
		}
	}
}

// do serves one request and returns the recorded response.
func (h *routerHub) do(q routerReq) *httptest.ResponseRecorder {
	h.t.Helper()
	var r *http.Request
	if q.body != "" {
		r = httptest.NewRequest(q.method, q.path, strings.NewReader(q.body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(q.method, q.path, nil)
	}
	r.Host = routerHost
	if q.tok != noToken {
		r.Header.Set("Authorization", "Bearer "+h.tokens[q.tok])
	}
	for k, v := range q.hdr {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.s.ServeHTTP(w, r)
	return w
}

// routeResult is what the router tests compare: the parts of an answer a
// client branches on.
type routeResult struct {
	Status          int
	Code            string   // the error member of a JSON error body
	Described       bool     // error_description is a non-empty string
	Keys            []string // the members of a JSON error body, sorted
	Allow           string
	ContentType     string
	WWWAuthenticate string
}

// resultOf reduces a response to a routeResult.
func resultOf(t *testing.T, w *httptest.ResponseRecorder) routeResult {
	t.Helper()
	got := routeResult{Status: w.Code, Allow: w.Header().Get("Allow"), ContentType: w.Header().Get("Content-Type"),
		WWWAuthenticate: w.Header().Get("WWW-Authenticate")}
	if got.ContentType != "application/json" {
		return got
	}
	var body any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("a JSON answer that is not JSON: %v\n%s", err, w.Body)
	}
	if w.Code < 400 {
		return got
	}
	m, ok := body.(map[string]any)
	if !ok {
		t.Fatalf("error body is not an object: %s", w.Body)
	}
	for k := range m {
		got.Keys = append(got.Keys, k)
	}
	slices.Sort(got.Keys)
	got.Code, _ = m["error"].(string)
	d, _ := m["error_description"].(string)
	got.Described = d != ""
	return got
}

// routeCase is one row of the router table. The expected result is
// derived from the few fields a case sets: JSON unless ctype says
// otherwise, an {error, error_description} body on every JSON error
// unless keys says otherwise, and WWW-Authenticate exactly on 401.
type routeCase struct {
	name string
	routerReq
	status int
	code   string
	allow  string
	ctype  string   // "" means application/json; "-" means no Content-Type
	keys   []string // members of the error body, when not the usual two
}

func (c routeCase) want() routeResult {
	w := routeResult{Status: c.status, Code: c.code, Allow: c.allow, ContentType: c.ctype}
	switch c.ctype {
	case "":
		w.ContentType = "application/json"
	case "-":
		w.ContentType = ""
	}
	if w.ContentType == "application/json" && c.status >= 400 {
		w.Keys, w.Described = c.keys, true
		if w.Keys == nil {
			w.Keys = []string{"error", "error_description"}
		}
	}
	if c.status == http.StatusUnauthorized {
		w.WWWAuthenticate = `Bearer error="invalid_token"`
	}
	return w
}

// runRouteCases runs cases as subtests against h.
func runRouteCases(t *testing.T, h *routerHub, cases []routeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := h.do(c.routerReq)
			if d := cmp.Diff(c.want(), resultOf(t, w)); d != "" {
				t.Errorf("%s %s (-want +got):\n%s\nbody: %s", c.method, c.path, d, w.Body)
			}
		})
	}
}

// get, post and the like keep the table readable.
func get(path string, tok tokenKind) routerReq {
	return routerReq{method: http.MethodGet, path: path, tok: tok}
}
func head(path string, tok tokenKind) routerReq {
	return routerReq{method: http.MethodHead, path: path, tok: tok}
}
func post(path string, tok tokenKind) routerReq {
	return routerReq{method: http.MethodPost, path: path, tok: tok}
}
func postJSON(path string, tok tokenKind, body string) routerReq {
	return routerReq{method: http.MethodPost, path: path, tok: tok, body: body}
}
func withHeader(q routerReq, kv ...string) routerReq {
	q.hdr = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.hdr[kv[i]] = kv[i+1]
	}
	return q
}

// TestRouter is the router's rule book: every route of routes() and
// dispatchModule with its method rule (checked before authentication),
// its authentication and scope, the Host/Origin guards on /api, the 404s
// for paths and module names that do not exist, and the shape of every
// error answer.
func TestRouter(t *testing.T) {
	h := newRouterHub(t)
	long := strings.Repeat("m", 64)
	cases := []routeCase{
		// Liveness, readiness, discovery and the root: no token needed.
		{name: "health", routerReq: get("/health", noToken), status: 200},
		{name: "health HEAD", routerReq: head("/health", noToken), status: 200},
		{name: "health answers any method", routerReq: post("/health", noToken), status: 200},
		{name: "health is not behind the API Host guard", routerReq: withHeader(get("/health", noToken), "Host", "evil.example"), status: 200},
		{name: "ready", routerReq: get("/api/ready", noToken), status: 200},
		{name: "ready HEAD", routerReq: head("/api/ready", noToken), status: 200},
		{name: "ready POST is 405", routerReq: post("/api/ready", noToken), status: 405, code: "method_not_allowed", allow: "GET, HEAD"},
		{name: "discovery", routerReq: get("/.well-known/parachute.json", noToken), status: 200},
		{name: "discovery preflight", routerReq: routerReq{method: http.MethodOptions, path: "/.well-known/parachute.json"}, status: 204, ctype: "-"},
		{name: "discovery answers any origin", routerReq: withHeader(get("/.well-known/parachute.json", noToken), "Origin", "http://evil.example"), status: 200},
		{name: "jwks", routerReq: get("/.well-known/jwks.json", noToken), status: 200},
		{name: "jwks preflight", routerReq: routerReq{method: http.MethodOptions, path: "/.well-known/jwks.json"}, status: 204, ctype: "-"},
		{name: "root", routerReq: get("/", noToken), status: 200},

		// The proxy: unknown paths are a plain-text 404, hub-owned paths
		// are never forwarded, a module that is down is a JSON 502.
		{name: "proxy unknown path", routerReq: get("/nowhere", noToken), status: 404, code: "not_found"},
		{name: "proxy never forwards a hub-owned path", routerReq: get("/oauth/unknown", noToken), status: 404, code: "not_found"},
		{name: "proxy to a module that is down", routerReq: get("/gone/x", noToken), status: 502, code: "upstream_unreachable",
			keys: []string{"error", "error_description", "service"}},

		// Unknown API paths: a JSON 404 before any method or token check.
		{name: "unknown API path", routerReq: get("/api/nope", noToken), status: 404, code: "not_found"},
		{name: "unknown API path POST", routerReq: post("/api/nope", operator), status: 404, code: "not_found"},
		{name: "API root", routerReq: get("/api/", noToken), status: 404, code: "not_found"},
		{name: "/api redirects to /api/", routerReq: get("/api", noToken), status: 307, ctype: "text/html; charset=utf-8"},

		// GET /api/hub: admin scope.
		{name: "hub", routerReq: get("/api/hub", operator), status: 200},
		{name: "hub HEAD", routerReq: head("/api/hub", operator), status: 200},
		{name: "hub without a token", routerReq: get("/api/hub", noToken), status: 401, code: "unauthenticated"},
		{name: "hub garbage token", routerReq: get("/api/hub", garbage), status: 401, code: "unauthenticated"},
		{name: "hub Basic auth", routerReq: withHeader(get("/api/hub", noToken), "Authorization", "Basic b3A6b3A="), status: 401, code: "unauthenticated"},
		{name: "hub empty bearer", routerReq: withHeader(get("/api/hub", noToken), "Authorization", "Bearer  "), status: 401, code: "unauthenticated"},
		{name: "hub lowercase bearer scheme", routerReq: withHeader(get("/api/hub", noToken), "Authorization", "bearer "+h.token), status: 200},
		{name: "hub auth-only scope", routerReq: get("/api/hub", authOnly), status: 403, code: "insufficient_scope"},
		{name: "hub module audience", routerReq: get("/api/hub", wrongAud), status: 401, code: "unauthenticated"},
		{name: "hub no jti", routerReq: get("/api/hub", noJTI), status: 401, code: "unauthenticated"},
		{name: "hub POST without a token is 405 not 401", routerReq: post("/api/hub", noToken), status: 405, code: "method_not_allowed", allow: "GET"},
		{name: "hub DELETE", routerReq: routerReq{method: http.MethodDelete, path: "/api/hub", tok: operator}, status: 405, code: "method_not_allowed", allow: "GET"},

		// POST /api/hub/upgrade: cases that stop before the host is probed.
		{name: "hub upgrade GET without a token is 405", routerReq: get("/api/hub/upgrade", noToken), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "hub upgrade without a token", routerReq: post("/api/hub/upgrade", noToken), status: 401, code: "unauthenticated"},
		{name: "hub upgrade auth-only scope", routerReq: post("/api/hub/upgrade", authOnly), status: 403, code: "insufficient_scope"},
		{name: "hub upgrade bad channel", routerReq: postJSON("/api/hub/upgrade", operator, `{"channel":"nightly"}`), status: 400, code: "invalid_channel"},
		{name: "hub upgrade unknown member", routerReq: postJSON("/api/hub/upgrade", operator, `{"form":"/x"}`), status: 400, code: "invalid_request"},
		{name: "hub upgrade not JSON", routerReq: withHeader(postJSON("/api/hub/upgrade", operator, `from=/x`), "Content-Type", "application/x-www-form-urlencoded"),
			status: 415, code: "invalid_request"},
		{name: "hub upgrade status before any upgrade", routerReq: get("/api/hub/upgrade/status", operator), status: 404, code: "not_found"},
		{name: "hub upgrade status without a token", routerReq: get("/api/hub/upgrade/status", noToken), status: 401, code: "unauthenticated"},
		{name: "hub upgrade status POST", routerReq: post("/api/hub/upgrade/status", noToken), status: 405, code: "method_not_allowed", allow: "GET"},

		// GET /api/me: who is asking. Nobody is {hasSession:false}; a
		// hub-audience bearer (OAuth aud "hub", or the operator) is
		// answered for; a module audience or a bad bearer is a 401. A "hub"
		// token reaches no operator route: those scopes stay required.
		{name: "me without a token", routerReq: get("/api/me", noToken), status: 200},
		{name: "me operator", routerReq: get("/api/me", operator), status: 200},
		{name: "me hub audience", routerReq: get("/api/me", hubAud), status: 200},
		{name: "me HEAD", routerReq: head("/api/me", hubAud), status: 200},
		{name: "me module audience", routerReq: get("/api/me", wrongAud), status: 401, code: "unauthenticated"},
		{name: "me garbage token", routerReq: get("/api/me", garbage), status: 401, code: "unauthenticated"},
		{name: "me POST", routerReq: post("/api/me", noToken), status: 405, code: "method_not_allowed", allow: "GET"},
		{name: "me foreign Origin", routerReq: withHeader(get("/api/me", noToken), "Origin", "http://evil.example"), status: 403, code: "cross_origin"},
		{name: "me same origin", routerReq: withHeader(get("/api/me", noToken), "Origin", "http://127.0.0.1:1939"), status: 200},
		{name: "hub audience on hub", routerReq: get("/api/hub", hubAud), status: 403, code: "insufficient_scope"},
		{name: "hub audience on modules", routerReq: get("/api/modules", hubAud), status: 403, code: "insufficient_scope"},
		{name: "hub audience on hub upgrade", routerReq: post("/api/hub/upgrade", hubAud), status: 403, code: "insufficient_scope"},
		{name: "hub audience mints nothing", routerReq: postJSON("/api/auth/mint-token", hubAud, `{"scope":"vault:default:read"}`), status: 403, code: "insufficient_scope"},

		// GET /api/modules: the auth scope is enough.
		{name: "modules", routerReq: get("/api/modules", operator), status: 200},
		{name: "modules HEAD", routerReq: head("/api/modules", operator), status: 200},
		{name: "modules auth-only scope", routerReq: get("/api/modules", authOnly), status: 200},
		{name: "modules without a token", routerReq: get("/api/modules", noToken), status: 401, code: "unauthenticated"},
		{name: "modules module audience", routerReq: get("/api/modules", wrongAud), status: 401, code: "unauthenticated"},
		{name: "modules POST", routerReq: post("/api/modules", noToken), status: 405, code: "method_not_allowed", allow: "GET"},

		// POST /api/auth/mint-token: any hub token with minting authority
		// (mint_test.go checks the minted tokens and the entry gate).
		{name: "mint-token", routerReq: postJSON("/api/auth/mint-token", operator, `{"scope":"vault:default:read"}`), status: 200},
		{name: "mint-token auth-only scope", routerReq: postJSON("/api/auth/mint-token", authOnly, `{"scope":"vault:default:read"}`), status: 200},
		{name: "mint-token GET", routerReq: get("/api/auth/mint-token", noToken), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "mint-token without a token", routerReq: postJSON("/api/auth/mint-token", noToken, `{"scope":"vault:default:read"}`), status: 401, code: "unauthenticated"},
		{name: "mint-token module audience", routerReq: postJSON("/api/auth/mint-token", wrongAud, `{"scope":"vault:default:read"}`), status: 401, code: "unauthenticated"},
		{name: "mint-token no scope", routerReq: post("/api/auth/mint-token", operator), status: 400, code: "invalid_request"},
		{name: "mint-token host scope", routerReq: postJSON("/api/auth/mint-token", operator, `{"scope":"vault:default:read parachute:host:admin"}`), status: 400, code: "invalid_scope"},
		{name: "mint-token unknown member", routerReq: postJSON("/api/auth/mint-token", operator, `{"scope":"a:b","ttl":5}`), status: 400, code: "invalid_request"},
		{name: "mint-token too long", routerReq: postJSON("/api/auth/mint-token", operator, `{"scope":"a:b","expires_in":31536001}`), status: 400, code: "invalid_request"},
		{name: "mint-token permissions not an object", routerReq: postJSON("/api/auth/mint-token", operator, `{"scope":"a:b","permissions":[1]}`), status: 400, code: "invalid_request"},

		// GET /api/modules/operations/<id>.
		{name: "operation unknown id", routerReq: get("/api/modules/operations/0123abcd", operator), status: 404, code: "not_found"},
		{name: "operation HEAD", routerReq: head("/api/modules/operations/0123abcd", operator), status: 404, code: "not_found"},
		{name: "operation without a token", routerReq: get("/api/modules/operations/0123abcd", noToken), status: 401, code: "unauthenticated"},
		{name: "operation auth-only scope", routerReq: get("/api/modules/operations/0123abcd", authOnly), status: 403, code: "insufficient_scope"},
		{name: "operation POST", routerReq: post("/api/modules/operations/0123abcd", noToken), status: 405, code: "method_not_allowed", allow: "GET"},
		{name: "operations without an id", routerReq: get("/api/modules/operations", noToken), status: 404, code: "not_found"},
		{name: "operation id with a slash", routerReq: get("/api/modules/operations/a/b", operator), status: 404, code: "not_found"},

		// POST /api/modules/<short>/{start,stop,restart}.
		{name: "start not installed", routerReq: post("/api/modules/mod/start", operator), status: 400, code: "not_installed"},
		{name: "start without a token", routerReq: post("/api/modules/mod/start", noToken), status: 401, code: "unauthenticated"},
		{name: "start garbage token", routerReq: post("/api/modules/mod/start", garbage), status: 401, code: "unauthenticated"},
		{name: "start auth-only scope", routerReq: post("/api/modules/mod/start", authOnly), status: 403, code: "insufficient_scope"},
		{name: "start no jti", routerReq: post("/api/modules/mod/start", noJTI), status: 401, code: "unauthenticated"},
		{name: "start HEAD is 405", routerReq: head("/api/modules/mod/start", operator), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "start GET without a token is 405", routerReq: get("/api/modules/mod/start", noToken), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "start a row with no start command", routerReq: post("/api/modules/gone/start", operator), status: 422, code: "no_start_cmd"},
		{name: "start a refused mount", routerReq: post("/api/modules/bad/start", operator), status: 409, code: "mount_refused"},
		{name: "restart not installed", routerReq: post("/api/modules/mod/restart", operator), status: 400, code: "not_installed"},
		{name: "restart GET", routerReq: get("/api/modules/mod/restart", noToken), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "restart auth-only scope", routerReq: post("/api/modules/mod/restart", authOnly), status: 403, code: "insufficient_scope"},
		{name: "stop a module not supervised", routerReq: post("/api/modules/mod/stop", operator), status: 200},
		{name: "stop GET", routerReq: get("/api/modules/mod/stop", noToken), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "stop without a token", routerReq: post("/api/modules/mod/stop", noToken), status: 401, code: "unauthenticated"},

		// GET /api/modules/<short>/logs.
		{name: "logs not supervised", routerReq: get("/api/modules/mod/logs", operator), status: 404, code: "not_supervised"},
		{name: "logs HEAD", routerReq: head("/api/modules/mod/logs", operator), status: 404, code: "not_supervised"},
		{name: "logs follow not supervised", routerReq: get("/api/modules/mod/logs?follow=1", operator), status: 404, code: "not_supervised"},
		{name: "logs negative lines", routerReq: get("/api/modules/mod/logs?lines=-1", operator), status: 400, code: "invalid_request"},
		{name: "logs lines not a number", routerReq: get("/api/modules/mod/logs?lines=ten", operator), status: 400, code: "invalid_request"},
		{name: "logs without a token", routerReq: get("/api/modules/mod/logs", noToken), status: 401, code: "unauthenticated"},
		{name: "logs auth-only scope", routerReq: get("/api/modules/mod/logs", authOnly), status: 403, code: "insufficient_scope"},
		{name: "logs POST", routerReq: post("/api/modules/mod/logs", noToken), status: 405, code: "method_not_allowed", allow: "GET"},

		// POST /api/modules/<short>/{install,upgrade,uninstall}: the
		// refusals answered before an operation is created.
		{name: "install GET", routerReq: get("/api/modules/mod/install", noToken), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "install without a token", routerReq: post("/api/modules/mod/install", noToken), status: 401, code: "unauthenticated"},
		{name: "install auth-only scope", routerReq: post("/api/modules/mod/install", authOnly), status: 403, code: "insufficient_scope"},
		{name: "install module audience", routerReq: post("/api/modules/mod/install", wrongAud), status: 401, code: "unauthenticated"},
		{name: "install bad channel", routerReq: postJSON("/api/modules/mod/install", operator, `{"channel":"nightly"}`), status: 400, code: "invalid_channel"},
		{name: "install relative source", routerReq: postJSON("/api/modules/mod/install", operator, `{"source":"./mod"}`), status: 400, code: "invalid_request"},
		{name: "install unknown member", routerReq: postJSON("/api/modules/mod/install", operator, `{"no-start":true}`), status: 400, code: "invalid_request"},
		{name: "install body too large", routerReq: postJSON("/api/modules/mod/install", operator, `{"source":"`+strings.Repeat("a", api.MaxJSONBody)+`"}`),
			status: 413, code: "body_too_large"},
		{name: "upgrade GET", routerReq: get("/api/modules/mod/upgrade", noToken), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "upgrade without a token", routerReq: post("/api/modules/mod/upgrade", noToken), status: 401, code: "unauthenticated"},
		{name: "upgrade bad channel", routerReq: postJSON("/api/modules/mod/upgrade", operator, `{"channel":"beta"}`), status: 400, code: "invalid_channel"},
		{name: "upgrade relative from", routerReq: postJSON("/api/modules/mod/upgrade", operator, `{"from":"../mod.tgz"}`), status: 400, code: "invalid_request"},
		{name: "uninstall GET", routerReq: get("/api/modules/mod/uninstall", noToken), status: 405, code: "method_not_allowed", allow: "POST"},
		{name: "uninstall without a token", routerReq: post("/api/modules/mod/uninstall", noToken), status: 401, code: "unauthenticated"},
		{name: "uninstall auth-only scope", routerReq: post("/api/modules/mod/uninstall", authOnly), status: 403, code: "insufficient_scope"},
		{name: "uninstall trailing JSON", routerReq: postJSON("/api/modules/mod/uninstall", operator, `{"purge":false}{"purge":true}`), status: 400, code: "invalid_request"},
		{name: "uninstall wrong type", routerReq: postJSON("/api/modules/mod/uninstall", operator, `{"purge":"yes"}`), status: 400, code: "invalid_request"},

		// Module names and actions: a 404 before the method and token checks.
		{name: "unknown action", routerReq: post("/api/modules/mod/bogus", noToken), status: 404, code: "not_found"},
		{name: "no action", routerReq: post("/api/modules/mod/", noToken), status: 404, code: "not_found"},
		{name: "too many segments", routerReq: post("/api/modules/mod/start/now", noToken), status: 404, code: "not_found"},
		{name: "name starting with a dash", routerReq: post("/api/modules/-mod/start", noToken), status: 404, code: "not_found"},
		{name: "name with ..", routerReq: post("/api/modules/a..b/start", noToken), status: 404, code: "not_found"},
		{name: "name with an escaped !", routerReq: post("/api/modules/mod%21/start", noToken), status: 404, code: "not_found"},
		{name: "name with an escaped slash", routerReq: post("/api/modules/a%2Fb/start", noToken), status: 404, code: "not_found"},
		{name: "name of 65 characters", routerReq: post("/api/modules/"+long+"m/start", noToken), status: 404, code: "not_found"},
		{name: "name of 64 characters is a name", routerReq: post("/api/modules/"+long+"/start", operator), status: 400, code: "not_installed"},
		{name: "name with dot, dash and underscore", routerReq: post("/api/modules/my_mod-2.x/start", operator), status: 400, code: "not_installed"},

		// The API guards run first: a foreign Host or a browser request from
		// another origin is refused whatever the method, path or token.
		{name: "foreign Host", routerReq: withHeader(get("/api/hub", operator), "Host", "evil.example"), status: 403, code: "host_not_allowed"},
		{name: "foreign Host with our port", routerReq: withHeader(get("/api/hub", operator), "Host", "evil.example:1939"), status: 403, code: "host_not_allowed"},
		{name: "loopback Host on another port", routerReq: withHeader(get("/api/hub", operator), "Host", "127.0.0.1:9999"), status: 403, code: "host_not_allowed"},
		{name: "foreign Host before 405", routerReq: withHeader(post("/api/hub", noToken), "Host", "evil.example"), status: 403, code: "host_not_allowed"},
		{name: "foreign Host before 404", routerReq: withHeader(get("/api/nope", noToken), "Host", "evil.example"), status: 403, code: "host_not_allowed"},
		{name: "foreign Host on ready", routerReq: withHeader(get("/api/ready", noToken), "Host", "evil.example"), status: 403, code: "host_not_allowed"},
		{name: "foreign Host on a module action", routerReq: withHeader(post("/api/modules/mod/start", operator), "Host", "evil.example"), status: 403, code: "host_not_allowed"},
		{name: "localhost Host", routerReq: withHeader(get("/api/hub", operator), "Host", "localhost:1939"), status: 200},
		{name: "IPv6 loopback Host", routerReq: withHeader(get("/api/hub", operator), "Host", "[::1]:1939"), status: 200},
		{name: "loopback Host without a port", routerReq: withHeader(get("/api/hub", operator), "Host", "127.0.0.1"), status: 200},
		{name: "foreign Origin", routerReq: withHeader(get("/api/hub", operator), "Origin", "http://evil.example"), status: 403, code: "cross_origin"},
		{name: "null Origin", routerReq: withHeader(get("/api/hub", operator), "Origin", "null"), status: 403, code: "cross_origin"},
		{name: "foreign Origin before 405", routerReq: withHeader(post("/api/hub", noToken), "Origin", "http://evil.example"), status: 403, code: "cross_origin"},
		{name: "our own Origin", routerReq: withHeader(get("/api/hub", operator), "Origin", "http://127.0.0.1:1939"), status: 200},
		{name: "cross-site fetch", routerReq: withHeader(post("/api/modules/mod/stop", operator), "Sec-Fetch-Site", "cross-site"), status: 403, code: "cross_origin"},
		{name: "same-origin fetch", routerReq: withHeader(get("/api/hub", operator), "Sec-Fetch-Site", "same-origin"), status: 200},
		{name: "no-cors fetch", routerReq: withHeader(post("/api/modules/mod/stop", operator), "Sec-Fetch-Mode", "no-cors"), status: 403, code: "cross_origin"},
		{name: "websocket upgrade", routerReq: withHeader(get("/api/hub", operator), "Upgrade", "websocket", "Connection", "Upgrade"), status: 403, code: "cross_origin"},
	}
	start := time.Now()
	runRouteCases(t, h, cases)
	t.Logf("%d router cases in %v", len(cases), time.Since(start))
}
