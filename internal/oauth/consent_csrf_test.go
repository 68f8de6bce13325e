package oauth

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/openparachute/parachute/internal/sessions"
)

// TestConsentCSRFIsTheSessionsOne: the consent form uses package
// sessions' double-submit token. A token the sign-in pages minted is the
// one the consent page embeds; a consent POST whose field does not match
// its cookie is refused, and so is one whose field and cookie match but
// are not a token the hub could have minted (a planted short cookie);
// the matching, well-formed pair consents.
func TestConsentCSRFIsTheSessionsOne(t *testing.T) {
	e := newEnv(t)
	// A client registered without a bearer is pending, so even the admin
	// sees the consent page.
	_, reg := e.register(map[string]any{"redirect_uris": []string{testCallback}}, "")
	cfg := e.config(reg["client_id"].(string), "vault:default:read")
	b := e.browser(e.adminID)
	base, _ := url.Parse(e.srv.URL)
	setCSRF := func(v string) {
		b.Jar.SetCookies(base, []*http.Cookie{{Name: sessions.CSRFCookie, Value: v, Path: "/"}})
	}
	mint := func() string {
		rec := httptest.NewRecorder()
		v, err := sessions.EnsureCSRF(rec, httptest.NewRequest("GET", "/login", nil), false)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	signInToken := mint()
	setCSRF(signInToken)
	_, page := get(t, b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if got := form.Get(sessions.CSRFField); got != signInToken {
		t.Fatalf("consent page CSRF %q, want the sign-in pages' token %q\n%s", got, signInToken, page)
	}
	form.Set("decision", "approve")
	post := func(f url.Values) *http.Response {
		resp, err := b.PostForm(e.srv.URL+"/oauth/authorize", f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	with := func(csrf string) url.Values {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set(sessions.CSRFField, csrf)
		return f
	}

	setCSRF(mint()) // a different, well-formed cookie
	if r := post(with(signInToken)); r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
		t.Errorf("mismatched CSRF: %d %q, want 400 and no redirect", r.StatusCode, r.Header.Get("Location"))
	}
	setCSRF("planted")
	if r := post(with("planted")); r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
		t.Errorf("matching but malformed CSRF: %d %q, want 400 and no redirect", r.StatusCode, r.Header.Get("Location"))
	}
	setCSRF(signInToken)
	if q := redirected(t, post(with(signInToken))); q.Get("code") == "" {
		t.Errorf("consent with the right token: %v", q)
	}
}
