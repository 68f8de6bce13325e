package setupgate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWantsHTML(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		want         bool
	}{
		{"firefox navigation", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
		{"chromium navigation", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", true},
		{"xhtml only", "application/xhtml+xml", true},
		{"upper case and spaces", " TEXT/HTML ; charset=utf-8", true},
		{"html after json", "application/json, text/html;q=0.1", true},
		{"absent (Go clients)", "", false},
		{"curl", "*/*", false},
		{"json", "application/json", false},
		{"html refused", "text/html;q=0, application/json", false},
		{"html refused 0.000", "text/html; q=0.000", false},
		{"html at 0.001", "text/html;q=0.001", true},
		{"text/htmlx is not html", "text/htmlx", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WantsHTML(tc.accept); got != tc.want {
				t.Errorf("WantsHTML(%q) = %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
}

// counter is a user count the test moves, recording how often it is read.
type counter struct {
	n, calls int
	err      error
}

func (c *counter) count(context.Context) (int, error) { c.calls++; return c.n, c.err }

// TestGateSequence: the count is read until it first shows a user, then
// never again; an error lets requests through.
func TestGateSequence(t *testing.T) {
	c := &counter{}
	g := New(c.count, nil)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := g.Wrap(ok)
	serve := func() int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/oauth/authorize", nil))
		return w.Code
	}
	steps := []struct {
		name      string
		set       func()
		wantCode  int
		wantCalls int
	}{
		{"no user", func() {}, http.StatusServiceUnavailable, 1},
		{"still none", func() {}, http.StatusServiceUnavailable, 2},
		{"database error passes", func() { c.err = errors.New("disk gone") }, http.StatusTeapot, 3},
		{"first user", func() { c.err, c.n = nil, 1 }, http.StatusTeapot, 4},
		{"remembered", func() {}, http.StatusTeapot, 4},
		{"never re-read", func() { c.n = 0 }, http.StatusTeapot, 4},
	}
	for _, s := range steps {
		s.set()
		if got := serve(); got != s.wantCode || c.calls != s.wantCalls {
			t.Fatalf("%s: %d after %d counts, want %d after %d", s.name, got, c.calls, s.wantCode, s.wantCalls)
		}
	}
}

// TestIntercept: what a browser and an API client get while no user exists.
func TestIntercept(t *testing.T) {
	g := New((&counter{}).count, nil)
	const firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, tc := range []struct {
		name, method, accept string
		code                 int
		location             string
	}{
		{"browser GET", "GET", firefox, http.StatusFound, SetupPath},
		{"browser HEAD", "HEAD", firefox, http.StatusFound, SetupPath},
		{"browser form post", "POST", firefox, http.StatusSeeOther, SetupPath},
		{"curl", "GET", "*/*", http.StatusServiceUnavailable, ""},
		{"json POST", "POST", "application/json", http.StatusServiceUnavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/login", nil)
			r.Header.Set("Accept", tc.accept)
			w := httptest.NewRecorder()
			if !g.Intercept(w, r) {
				t.Fatal("not intercepted")
			}
			if w.Code != tc.code || w.Header().Get("Location") != tc.location || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("%d → %q, Cache-Control %q", w.Code, w.Header().Get("Location"), w.Header().Get("Cache-Control"))
			}
			if tc.location != "" {
				return
			}
			var b Body
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error != "setup_required" ||
				b.SetupURL != "/admin/setup" || !strings.Contains(b.Description, "parachute auth set-password") {
				t.Errorf("body %s (%v)", w.Body.String(), err)
			}
		})
	}
}

// FuzzWantsHTML: any Accept header is answered without panicking, and a
// header that does not mention html at all is never taken for a browser.
func FuzzWantsHTML(f *testing.F) {
	for _, s := range []string{"", "*/*", "text/html", "text/html;q=0", "application/json, text/html;q=0.5",
		"text/html;;q=", ";;,,", "text/html; q=0.", "TEXT/HTML;Q=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		got := WantsHTML(accept)
		if got && !strings.Contains(strings.ToLower(accept), "html") {
			t.Fatalf("WantsHTML(%q) without html", accept)
		}
	})
}
