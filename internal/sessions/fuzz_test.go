package sessions

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzCookieValues feeds arbitrary cookie and header values to the parts
// that read them: no panic, no session found for a value never issued, and
// the CSRF check never passes with a token unlike the cookie.
func FuzzCookieValues(f *testing.F) {
	fx := newFixture(f)
	raw, _, err := fx.m.Create(context.Background(), fx.alice)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", raw, raw[:10], raw + "=", "\x00", "https, http", "[::1]:80"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, cookie, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", SessionCookie+"="+cookie+"; "+CSRFCookie+"="+cookie)
		r.Header.Set("X-Forwarded-Proto", header)
		r.RemoteAddr = header
		if uid, ok := fx.m.Current(r); ok && (uid != fx.alice || (cookie != raw)) {
			t.Fatalf("cookie %q found session of %q", cookie, uid)
		}
		_ = DefaultSecure(r, nil)
		if c, err := r.Cookie(CSRFCookie); err == nil && c.Value != header {
			p := httptest.NewRequest("POST", "/", nil)
			p.Header.Set("Cookie", CSRFCookie+"="+c.Value)
			p.PostForm = map[string][]string{CSRFField: {header}}
			p.Body = http.NoBody
			if CheckCSRF(httptest.NewRecorder(), p) {
				t.Fatalf("CSRF passed with cookie %q and field %q", c.Value, header)
			}
		}
	})
}
