package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
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
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/testenv"
	"golang.org/x/oauth2"
)

// cookieSessions is the Sessions the tests sign in with: a cookie whose
// value names a user, set by signIn. It stands in for the sessions
// package's Manager, whose login pages are tested there.
type cookieSessions struct {
	mu  sync.Mutex
	ids map[string]string
}

func (c *cookieSessions) Current(r *http.Request) (string, bool) {
	ck, err := r.Cookie("test_session")
	if err != nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	uid, ok := c.ids[ck.Value]
	return uid, ok
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// env is an OAuth server on a real port over a real hub.db, with an admin
// and a friend (assigned vault "default", read-only) and one vault mounted.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	store    *auth.Store
	users    *accounts.Store
	sess     *cookieSessions
	clock    *clock
	adminID  string
	friendID string
	services func() []manifest.Service
}

func (e *env) srvOptsServices(*testing.T) []manifest.Service { return e.services() }

const testCallback = "http://127.0.0.1:9/callback"

func newEnv(t *testing.T, tweak ...func(*Options)) *env {
	t.Helper()
	testenv.NoLeaks(t) // first, so it checks after every cleanup below
	store, err := auth.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	if _, err := store.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	users := accounts.NewStore(store.DB())
	admin, err := users.Create(ctx, "owner", "correct horse battery", accounts.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	friend, err := users.Create(ctx, "friend", "correct horse battery", accounts.CreateOptions{AllowMulti: true, Vaults: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.DB().Exec(`UPDATE user_vaults SET role = 'read' WHERE user_id = ?`, friend.ID); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, users: users, sess: &cookieSessions{ids: map[string]string{}},
		clock: &clock{t: time.Now()}, adminID: admin.ID, friendID: friend.ID}
	mux := http.NewServeMux()
	e.srv = httptest.NewUnstartedServer(mux)
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	rows := []manifest.Service{
		{Name: "parachute-vault", Port: 1940, Paths: []string{"/vault/default"}, Version: "1.0.0"},
		{Name: "parachute-scribe", Port: 1943, Paths: []string{"/scribe"}, Version: "0.3.0"},
	}
	o := Options{
		Auth:     func() *auth.Store { return store },
		Sessions: e.sess,
		Issuer:   func() string { return e.srv.URL },
		Origins:  func() []string { return []string{e.srv.URL} },
		Services: func() []manifest.Service { return rows },
		Now:      e.clock.Now,
	}
	for _, f := range tweak {
		f(&o)
	}
	e.services = o.Services
	New(o).Register(mux)
	return e
}

// browser is a cookie-keeping client that does not follow redirects, so
// the test sees every hop; signed in as uid unless uid is "".
func (e *env) browser(uid string) *http.Client {
	jar, _ := cookiejar.New(nil)
	if uid != "" {
		e.sess.mu.Lock()
		v := newSecret(16)
		e.sess.ids[v] = uid
		e.sess.mu.Unlock()
		u, _ := url.Parse(e.srv.URL)
		jar.SetCookies(u, []*http.Cookie{{Name: "test_session", Value: v, Path: "/"}})
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// register registers a client by DCR; bearer, when set, is sent.
func (e *env) register(body map[string]any, bearer string) (int, map[string]any) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/register", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// publicClient registers an approved public client (as the operator does,
// with a hub:admin bearer) and returns its id.
func (e *env) publicClient(scope string) string {
	tok, _, err := e.store.MintOperator(context.Background(), e.srv.URL, "admin")
	if err != nil {
		e.t.Fatal(err)
	}
	code, out := e.register(map[string]any{"redirect_uris": []string{testCallback}, "client_name": "Test app", "scope": scope}, tok)
	if code != 201 {
		e.t.Fatalf("register: %d %v", code, out)
	}
	return out["client_id"].(string)
}

func (e *env) config(clientID, scope string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, RedirectURL: testCallback, Scopes: strings.Fields(scope),
		Endpoint: oauth2.Endpoint{AuthURL: e.srv.URL + "/oauth/authorize", TokenURL: e.srv.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams}}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// consent submits the consent page in body with decision, as a browser
// would, and returns the response.
func consent(t *testing.T, c *http.Client, base, body, decision string) *http.Response {
	t.Helper()
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if form.Get("__csrf") == "" {
		t.Fatalf("no consent form in page:\n%s", body)
	}
	form.Set("decision", decision)
	resp, err := c.PostForm(base+"/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// redirected returns the query of a redirect to the client's callback.
func redirected(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, testCallback) {
		t.Fatalf("want a 302 to the callback, got %d %q", resp.StatusCode, loc)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

func s256(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
