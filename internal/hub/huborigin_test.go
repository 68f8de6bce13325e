package hub

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// GET/PUT /api/settings/hub-origin: the admin's origin outranks the
// environment for the issuer at once, is stored in hub_settings, is
// validated like the reference (server.md §4h case 78), and null clears it.
func TestHubOriginSetting(t *testing.T) {
	h := newRouterHub(t)
	put := func(body string) routerReq {
		return routerReq{method: http.MethodPut, path: "/api/settings/hub-origin", tok: operator, body: body}
	}
	view := func(q routerReq) (int, hubOriginBody) {
		t.Helper()
		rec := h.do(q)
		var b hubOriginBody
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
				t.Fatalf("decoding %s: %v", rec.Body, err)
			}
		}
		return rec.Code, b
	}
	str := func(s string) *string { return &s }
	loopback := h.origins.Loopback()

	steps := []struct {
		name   string
		req    routerReq
		status int
		want   hubOriginBody
	}{
		{"unset at first", get("/api/settings/hub-origin", operator), 200,
			hubOriginBody{ResolvedIssuer: loopback, Source: "loopback"}},
		{"set", put(`{"hub_origin":"https://hub.example.com"}`), 200,
			hubOriginBody{HubOrigin: str("https://hub.example.com"), ResolvedIssuer: "https://hub.example.com", Source: "settings"}},
		{"read back", get("/api/settings/hub-origin", operator), 200,
			hubOriginBody{HubOrigin: str("https://hub.example.com"), ResolvedIssuer: "https://hub.example.com", Source: "settings"}},
		{"credentials refused", put(`{"hub_origin":"https://u:p@hub.example.com"}`), 400, hubOriginBody{}},
		{"path refused", put(`{"hub_origin":"https://hub.example.com/x"}`), 400, hubOriginBody{}},
		{"query refused", put(`{"hub_origin":"https://hub.example.com?a=1"}`), 400, hubOriginBody{}},
		{"fragment refused", put(`{"hub_origin":"https://hub.example.com#f"}`), 400, hubOriginBody{}},
		{"trailing slash refused", put(`{"hub_origin":"https://hub.example.com/"}`), 400, hubOriginBody{}},
		{"other scheme refused", put(`{"hub_origin":"ftp://hub.example.com"}`), 400, hubOriginBody{}},
		{"no host refused", put(`{"hub_origin":"https://"}`), 400, hubOriginBody{}},
		{"a refused value changed nothing", get("/api/settings/hub-origin", operator), 200,
			hubOriginBody{HubOrigin: str("https://hub.example.com"), ResolvedIssuer: "https://hub.example.com", Source: "settings"}},
		{"null clears", put(`{"hub_origin":null}`), 200,
			hubOriginBody{ResolvedIssuer: loopback, Source: "loopback"}},
		{"auth-only scope", put(`{"hub_origin":"https://evil.example"}`), 0, hubOriginBody{}},
	}
	steps[len(steps)-1].req.tok, steps[len(steps)-1].status = authOnly, 403
	for _, st := range steps {
		code, got := view(st.req)
		if code != st.status {
			t.Fatalf("%s: status %d, want %d", st.name, code, st.status)
		}
		if code == 200 {
			if diff := cmp.Diff(st.want, got); diff != "" {
				t.Fatalf("%s (-want +got):\n%s", st.name, diff)
			}
		}
	}

	// The stored value is what a restarted hub loads before its modules boot.
	code, _ := view(put(`{"hub_origin":"https://stored.example"}`))
	if code != 200 {
		t.Fatalf("set: %d", code)
	}
	fresh := New(Options{Paths: h.paths, Supervisor: h.sup, Origins: Origins{Port: routerPort}})
	if err := fresh.readHubOriginSetting(t.Context(), h.store.DB()); err != nil {
		t.Fatal(err)
	}
	if got := fresh.origins.Issuer(); got != "https://stored.example" {
		t.Fatalf("a new hub's issuer = %q, want the stored setting", got)
	}
}

func TestHubOriginSettingMethods(t *testing.T) {
	h := newRouterHub(t)
	for _, q := range []routerReq{
		post("/api/settings/hub-origin", noToken),
		{method: http.MethodDelete, path: "/api/settings/hub-origin", tok: noToken},
	} {
		rec := h.do(q)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, PUT" {
			t.Errorf("%s: %d Allow %q, want 405 with Allow: GET, PUT (before auth)", q.method, rec.Code, rec.Header().Get("Allow"))
		}
	}
	if rec := h.do(get("/api/settings/hub-origin", noToken)); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET without a token: %d, want 401", rec.Code)
	}
}
