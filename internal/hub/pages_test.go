package hub

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/supervisor"
)

// TestProxyErrorPages: a browser gets a small HTML page, a script the JSON
// error of before, for a module that is starting and one that is down.
func TestProxyErrorPages(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	// "waking" runs (so it is in its boot window) but has not bound its
	// port yet; "gone" is registered but not running at all.
	if _, err := h.sup.Start(context.Background(), supervisor.Spec{Short: "waking",
		Argv: []string{"/bin/sh", "-c", "exec sleep 600"}}); err != nil {
		t.Fatal(err)
	}
	row := func(name string) map[string]any {
		return map[string]any{"name": name, "port": freePort(t), "paths": []string{"/" + name},
			"health": "/health", "version": "1.0.0"}
	}
	h.writeRows(row("waking"), row("gone"))

	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	cases := []struct {
		name, path, accept string
		code               int
		html               bool
		contains           []string
	}{
		{"starting, browser", "/waking/", browser, 503, true,
			[]string{`<meta http-equiv="refresh" content="2">`, "waking is starting", `name="viewport"`}},
		{"starting, script", "/waking/", "", 503, false, []string{`"error": "upstream_starting"`}},
		{"unreachable, browser", "/gone/x", browser, 502, true,
			[]string{`href="/admin/"`, "parachute status", "parachute logs gone", "gone is unreachable"}},
		{"unreachable, curl", "/gone/x", "*/*", 502, false, []string{`"error": "upstream_unreachable"`, "parachute logs gone"}},
		{"unreachable, json", "/gone/x", "application/json", 502, false, []string{`"error": "upstream_unreachable"`}},
		// The one browser test of the hub (setupgate.WantsHTML): HTML
		// refused with q=0 is not asked for.
		{"unreachable, html refused", "/gone/x", "text/html;q=0, application/json", 502, false, []string{`"error": "upstream_unreachable"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.url(c.path), nil)
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != c.code {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, c.code, body)
			}
			if c.code == 503 && resp.Header.Get("Retry-After") != "2" {
				t.Errorf("Retry-After %q, want 2", resp.Header.Get("Retry-After"))
			}
			ct := resp.Header.Get("Content-Type")
			if c.html {
				csp := resp.Header.Get("Content-Security-Policy")
				if ct != "text/html; charset=utf-8" || !strings.HasPrefix(csp, "default-src 'none'; style-src 'sha256-") {
					t.Errorf("Content-Type %q, CSP %q", ct, csp)
				}
				if strings.Contains(body, "<script") || strings.Contains(body, " on") && strings.Contains(body, "=\"javascript") {
					t.Errorf("page has script: %s", body)
				}
			} else {
				var v map[string]any
				if ct != "application/json" || json.Unmarshal(b, &v) != nil {
					t.Errorf("Content-Type %q, body %s: want JSON", ct, body)
				}
			}
			for _, s := range c.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
		})
	}
}

// TestPageCSPMatchesStyle: the CSP hash is of the style block the page
// actually carries, so the browser applies it.
func TestPageCSPMatchesStyle(t *testing.T) {
	rec := &recorder{h: http.Header{}}
	writeProxyPage(rec, false, "x")
	body := rec.b.String()
	i, j := strings.Index(body, "<style>"), strings.Index(body, "</style>")
	if i < 0 || j < i || body[i+len("<style>"):j] != pageCSS {
		t.Fatalf("style block differs from pageCSS (escaped?): %q", body[max(i, 0):max(j, 0)])
	}
}

type recorder struct {
	h    http.Header
	b    strings.Builder
	code int
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(p []byte) (int, error) { return r.b.Write(p) }
func (r *recorder) WriteHeader(c int)           { r.code = c }
