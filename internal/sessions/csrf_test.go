package sessions

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestProtect(t *testing.T) {
	m := New(Options{})
	w := httptest.NewRecorder()
	tok, err := m.CSRFToken(w, httptest.NewRequest("GET", "/login", nil))
	if err != nil {
		t.Fatal(err)
	}
	if c := w.Result().Cookies()[0]; c.Name != CSRFCookie || c.MaxAge != 30*86400 || !c.HttpOnly {
		t.Errorf("csrf cookie = %+v", c)
	}
	other := strings.Repeat("B", len(tok))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) })
	h := Protect(ok, deny)
	cases := []struct {
		name    string
		method  string
		cookie  string
		field   string
		headers map[string]string
		want    int
	}{
		{"get passes", "GET", "", "", nil, 200},
		{"matching token", "POST", tok, tok, nil, 200},
		{"same-origin browser", "POST", tok, tok, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://hub.test"}, 200},
		{"missing cookie", "POST", "", tok, nil, 403},
		{"missing field", "POST", tok, "", nil, 403},
		{"wrong field", "POST", tok, other, nil, 403},
		{"short field", "POST", tok, tok[:10], nil, 403},
		{"cross-site fetch", "POST", tok, tok, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign origin", "POST", tok, tok, map[string]string{"Origin": "https://evil.example"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{}
			if c.field != "" {
				form.Set(CSRFField, c.field)
			}
			r := httptest.NewRequest(c.method, "http://hub.test/login", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.cookie != "" {
				r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: c.cookie})
			}
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Errorf("status %d, want %d", w.Code, c.want)
			}
		})
	}
}

func TestCSRFTokenReused(t *testing.T) {
	m := New(Options{})
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	a, _ := m.CSRFToken(w, r)
	b, _ := m.CSRFToken(w, r)
	if a != b || len(w.Result().Cookies()) != 1 {
		t.Errorf("second call minted again: %q %q", a, b)
	}
}
