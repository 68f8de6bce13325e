package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/supervisor"
)

// auditHub is an in-process hub whose log lines are captured as JSON.
type auditHub struct {
	s      *Server
	logs   *bytes.Buffer
	token  string
	claims *auth.Claims
}

func newAuditHub(t *testing.T) *auditHub {
	t.Helper()
	ctx := context.Background()
	p := config.Paths{Root: t.TempDir()}
	store, err := auth.Open(p.HubDB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	origins := Origins{Port: 1939}
	tok, _, err := store.MintOperator(ctx, origins.Issuer(), "")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := store.Verify(ctx, tok, auth.VerifyOptions{Issuers: origins.Accepted(), Audiences: auth.HubAudiences()})
	if err != nil {
		t.Fatal(err)
	}
	sup := supervisor.New(supervisor.Options{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sup.Shutdown(ctx)
	})
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	s := New(Options{Paths: p, Supervisor: sup, Auth: store, Origins: origins, Version: "test", Logger: log})
	return &auditHub{s: s, logs: &logs, token: tok, claims: claims}
}

// auditLines returns the "audit" lines logged so far, with only the fields
// an operator greps for.
func (h *auditHub) auditLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if l == "" || json.Unmarshal([]byte(l), &m) != nil || m["msg"] != "audit" {
			continue
		}
		delete(m, "time")
		delete(m, "level")
		delete(m, "remote")
		out = append(out, m)
	}
	return out
}

// TestAuditLogsMutatingRequests: every non-GET/HEAD API request leaves one
// "audit" line with the token's subject and the outcome, whether it was
// refused before routing, before authentication or by the handler; reads
// leave none.
func TestAuditLogsMutatingRequests(t *testing.T) {
	cases := []struct {
		name        string
		method      string
		path        string
		host        string
		authed      bool
		wantStatus  int
		wantAudited bool
		wantError   api.ErrorCode
	}{
		{name: "stop, authenticated", method: "POST", path: "/api/modules/vault/stop", authed: true, wantStatus: 200, wantAudited: true},
		{name: "stop, no token", method: "POST", path: "/api/modules/vault/stop", wantStatus: 401, wantAudited: true, wantError: api.CodeUnauthenticated},
		{name: "wrong method", method: "DELETE", path: "/api/modules/vault/stop", authed: true, wantStatus: 405, wantAudited: true, wantError: api.CodeMethodNotAllowed},
		{name: "foreign host", method: "POST", path: "/api/modules/vault/stop", host: "evil.example", authed: true, wantStatus: 403, wantAudited: true, wantError: api.CodeHostNotAllowed},
		{name: "handler error", method: "POST", path: "/api/modules/vault/start", authed: true, wantStatus: 400, wantAudited: true, wantError: api.CodeNotInstalled},
		{name: "unknown route", method: "POST", path: "/api/nowhere", authed: true, wantStatus: 404, wantAudited: true, wantError: api.CodeNotFound},
		{name: "a read is not audited", method: "GET", path: "/api/modules", authed: true, wantStatus: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newAuditHub(t)
			r := httptest.NewRequest(c.method, c.path, nil)
			r.Host = "127.0.0.1:1939"
			if c.host != "" {
				r.Host = c.host
			}
			if c.authed {
				r.Header.Set("Authorization", "Bearer "+h.token)
			}
			w := httptest.NewRecorder()
			h.s.ServeHTTP(w, r)
			if w.Code != c.wantStatus {
				t.Fatalf("%s %s = %d, want %d; body %s", c.method, c.path, w.Code, c.wantStatus, w.Body)
			}
			var want []map[string]any
			if c.wantAudited {
				sub, jti := "", ""
				// Only a request that authenticated has a subject to report.
				if c.authed && c.wantStatus != 403 && c.wantStatus != 405 && c.wantStatus != 404 {
					sub, jti = h.claims.Subject, h.claims.JTI
				}
				want = []map[string]any{{"msg": "audit", "method": c.method, "path": c.path, "sub": sub, "jti": jti,
					"status": float64(c.wantStatus), "error": string(c.wantError)}}
			}
			if d := cmp.Diff(want, h.auditLines(t)); d != "" {
				t.Errorf("audit lines (-want +got):\n%s", d)
			}
		})
	}
}

// TestProxyNotFoundIsJSONError: a path no module is mounted at answers the
// API's JSON error body, not net/http's plain text.
func TestProxyNotFoundIsJSONError(t *testing.T) {
	h := newAuditHub(t)
	r := httptest.NewRequest(http.MethodGet, "/nowhere", nil)
	w := httptest.NewRecorder()
	h.s.ServeHTTP(w, r)
	var e api.Error
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != 404 || e.Code != api.CodeNotFound ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") || !strings.Contains(e.Description, "/nowhere") {
		t.Fatalf("GET /nowhere = %d %s %q (%v); want 404 application/json with error not_found naming the path",
			w.Code, w.Header().Get("Content-Type"), w.Body, err)
	}
}
