package web

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/sessions"
)

const testPassword = "correct horse battery"

// clock is a settable test clock shared by sessions, limits and TOTP.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is a real hub.db, the pages on a real socket and a clock.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	clk   *clock
	store *accounts.Store
	sess  *sessions.Manager
	admin *accounts.User
	// tokens is the token store of newEnvOpts(withTokens), else nil.
	tokens *auth.Store
}

// testIssuer is the issuer the env's token store signs with.
const testIssuer = "http://127.0.0.1:1939"

func newEnv(t *testing.T) *env { return newEnvLimits(t, Limits{}) }

func newEnvLimits(t *testing.T, lim Limits) *env { return newEnvOpts(t, lim, false) }

// newEnvOpts builds an env; withTokens adds a real token store (signing
// key and all) on the same hub.db for the account page's vault tokens.
func newEnvOpts(t *testing.T, lim Limits, withTokens bool) *env {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "hub.db")
	db, err := hubdb.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := accounts.NewStore(db)
	admin, err := st.Create(ctx, "alice", testPassword, accounts.CreateOptions{PasswordChanged: true})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	sm := sessions.New(sessions.Options{DB: db, Now: clk.Now})
	o := Options{Accounts: st, Sessions: sm, Now: clk.Now, Limits: lim}
	var tokens *auth.Store
	if withTokens {
		tokens = auth.NewStore(db, dbPath)
		if _, err := tokens.EnsureSigningKey(ctx); err != nil {
			t.Fatal(err)
		}
		o.Tokens, o.Issuer = tokens, func() string { return testIssuer }
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, clk: clk, store: st, sess: sm, admin: admin, tokens: tokens}
}

// browser is a client with its own cookie jar that does not follow
// redirects, so tests see each Location.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// resp is a read response.
type resp struct {
	Code   int
	Header http.Header
	Body   string
}

func (b *browser) do(req *http.Request) resp {
	b.e.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return resp{Code: res.StatusCode, Header: res.Header, Body: string(body)}
}

func (b *browser) get(path string) resp {
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(req)
}

// post submits form to path with the browser's CSRF token (fetched from
// a GET of /login, or of /admin/setup before any user exists, when it has
// none) and the headers a same-origin form post carries.
func (b *browser) post(path string, form url.Values) resp {
	form.Set(sessions.CSRFField, b.csrf())
	return b.postRaw(path, form, map[string]string{"Origin": b.e.srv.URL, "Sec-Fetch-Site": "same-origin"})
}

func (b *browser) postRaw(path string, form url.Values, headers map[string]string) resp {
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return b.do(req)
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL + "/login")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) csrf() string {
	if v := b.cookie(sessions.CSRFCookie); v != "" {
		return v
	}
	b.get("/login")
	if v := b.cookie(sessions.CSRFCookie); v != "" {
		return v
	}
	// A hub with no user yet sends /login on to the setup page.
	b.get(SetupPath)
	return b.cookie(sessions.CSRFCookie)
}

// login posts the password form.
func (b *browser) login(username, password, next string) resp {
	return b.post("/login", url.Values{"username": {username}, "password": {password}, "next": {next}})
}

var (
	secretRE = regexp.MustCompile(`id="secret">([A-Z2-7]+)<`)
	codeRE   = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
)
