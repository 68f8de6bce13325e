package hub

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/config"
)

// TestLegacyRedirects: the reference's 301s for moved URLs, query kept,
// whatever the method.
func TestLegacyRedirects(t *testing.T) {
	s := New(Options{Paths: config.Paths{Root: t.TempDir()}, Origins: Origins{Port: 1939}})
	cases := []struct{ method, target, want string }{
		{"GET", "/vault", "/admin/vaults"},
		{"GET", "/vault/", "/admin/vaults"},
		{"GET", "/vault/new?x=1", "/admin/vaults/new?x=1"},
		{"GET", "/hub", "/admin/vaults"},
		{"GET", "/hub/", "/admin/vaults"},
		{"GET", "/hub/vaults", "/admin/vaults"},
		{"GET", "/hub/vaults/work/tokens?tab=2", "/admin/vaults/work/tokens?tab=2"},
		{"GET", "/hub/permissions", "/admin/permissions"},
		{"GET", "/hub/tokens", "/admin/tokens"},
		{"GET", "/admin/login?next=%2Fadmin%2F", "/login?next=%2Fadmin%2F"},
		{"POST", "/admin/logout", "/logout"},
		{"GET", "/notes", "/surface/notes"},
		{"GET", "/notes/", "/surface/notes/"},
		{"GET", "/notes/n/a%20b?q=1", "/surface/notes/n/a%20b?q=1"},
		{"PUT", "/notes/x", "/surface/notes/x"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(c.method, c.target, nil))
			if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != c.want {
				t.Errorf("%d Location %q, want 301 %q", w.Code, w.Header().Get("Location"), c.want)
			}
		})
	}
	for _, p := range []string{"/notesy", "/notes-archive", "/vault/default/x", "/hub/other", "/hubx"} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code == http.StatusMovedPermanently {
			t.Errorf("%s redirected to %q; only the moved paths are", p, w.Header().Get("Location"))
		}
	}
}

// TestNotesRedirectYieldsToMountedModule: a hub still running the notes
// module on /notes keeps serving it instead of redirecting into a 404.
func TestNotesRedirectYieldsToMountedModule(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	h.writeRows(h.startHelperModule("notes", nil))
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(h.url("/notes/today"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "notes /notes/today") {
		t.Errorf("GET /notes/today = %d %q, want the notes module's answer", resp.StatusCode, b)
	}
}

// TestHubPage: /hub.html, and / for a browser, list the modules under the
// strict page CSP; / for a script stays JSON.
func TestHubPage(t *testing.T) {
	p := config.Paths{Root: t.TempDir()}
	if err := os.WriteFile(p.ServicesJSON(), []byte(`{"services":[
		{"name":"echo","port":1950,"paths":["/echo"],"health":"/echo/health","version":"1.0.0","displayName":"Echo <b>","tagline":"says things"},
		{"name":"parachute-vault","port":1940,"paths":["/vault/default"],"health":"/vault/default/health","version":"2.0.0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Paths: p, Origins: Origins{Port: 1939}})
	for _, c := range []struct{ path, accept string }{{"/hub.html", ""}, {"/", "text/html"}} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", c.path, nil)
		r.Header.Set("Accept", c.accept)
		s.ServeHTTP(w, r)
		body := w.Body.String()
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("%s: %d %v", c.path, w.Code, w.Header())
		}
		for _, want := range []string{`href="http://127.0.0.1:1939/echo"`, "Echo &lt;b&gt;", "says things", "vault (default)", `href="/admin/"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q:\n%s", c.path, want, body)
			}
		}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("/ without Accept: %q, want JSON", w.Header().Get("Content-Type"))
	}
}

// FuzzLegacyRedirect: whatever path a client asks for, a redirect stays on
// the hub (never a "//host" or "/\host" Location a browser would read as
// another site) and lands on one of the moved-to places.
func FuzzLegacyRedirect(f *testing.F) {
	for _, p := range []string{"/notes", "/notes//evil.com", "/notes/%2F%2Fevil.com", "/hub/vaults/\\evil.com", "/vault/new?a=b", "/admin/login"} {
		f.Add(p)
	}
	s := New(Options{Paths: config.Paths{Root: f.TempDir()}, Origins: Origins{Port: 1939}})
	f.Fuzz(func(t *testing.T, target string) {
		r, err := http.NewRequest("GET", "http://127.0.0.1:1939"+target, nil)
		if err != nil || r.URL.Host != "127.0.0.1:1939" {
			return
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusMovedPermanently {
			return
		}
		loc := w.Header().Get("Location")
		ok := false
		for _, to := range []string{"/admin/vaults", "/admin/permissions", "/admin/tokens", "/login", "/logout", "/surface/notes", "/"} {
			ok = ok || strings.HasPrefix(loc, to)
		}
		if !ok || len(loc) > 1 && (loc[1] == '/' || loc[1] == '\\') {
			t.Fatalf("%q redirected to %q", target, loc)
		}
	})
}
