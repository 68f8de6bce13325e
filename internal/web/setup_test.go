package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/ratelimit"
	"github.com/openparachute/parachute/internal/sessions"
)

// setupEnv is a fresh hub: a real hub.db with no user, the pages on a
// real socket, a real token store writing operator.token, and (unless
// noToken) the bootstrap token serve would log.
type setupEnv struct {
	*env
	boot    *accounts.Bootstrap // nil without a token
	opToken string              // path of operator.token
}

func newSetupEnv(t *testing.T, noToken bool, lim Limits) *setupEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	db, err := hubdb.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := accounts.NewStore(db)
	tokens := auth.NewStore(db, dbPath)
	if _, err := tokens.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	sm := sessions.New(sessions.Options{DB: db, Now: clk.Now})
	se := &setupEnv{opToken: filepath.Join(dir, "operator.token")}
	if !noToken {
		if se.boot, err = st.NewBootstrap(nil); err != nil {
			t.Fatal(err)
		}
	}
	h, err := New(Options{Accounts: st, Sessions: sm, Now: clk.Now, Limits: lim, Tokens: tokens,
		Issuer: func() string { return testIssuer }, Bootstrap: se.boot,
		OperatorToken: func(ctx context.Context) (bool, error) {
			return tokens.EnsureOperatorToken(ctx, se.opToken, testIssuer)
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	se.env = &env{t: t, srv: srv, clk: clk, store: st, sess: sm, tokens: tokens}
	return se
}

func (se *setupEnv) users() int {
	se.t.Helper()
	n, err := se.store.Count(context.Background())
	if err != nil {
		se.t.Fatal(err)
	}
	return n
}

// accountForm is a complete account step.
func accountForm(token, username, password, confirm string) url.Values {
	return url.Values{"bootstrap_token": {token}, "username": {username}, "password": {password},
		"password_confirm": {confirm}}
}

// TestSetupAccountStep walks the account step in one browser, as a
// sequence: the form, every refusal, the claim, and what follows it.
func TestSetupAccountStep(t *testing.T) {
	se := newSetupEnv(t, false, Limits{})
	b := se.browser()
	tok := se.boot.Token()
	wrong := accounts.BootstrapPrefix + strings.Repeat("Q", len(tok)-len(accounts.BootstrapPrefix))
	const secret = "a passphrase nobody guesses"

	r := b.get(SetupPath)
	if r.Code != http.StatusOK || r.Header.Get("Content-Security-Policy") != ContentSecurityPolicy {
		t.Fatalf("GET %s: %d, CSP %q", SetupPath, r.Code, r.Header.Get("Content-Security-Policy"))
	}
	for _, want := range []string{`name="bootstrap_token"`, `name="username" value="owner"`, `name="password"`,
		`name="password_confirm"`, `action="/admin/setup/account"`, `name="__csrf" value="` + b.cookie(sessions.CSRFCookie)} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("form lacks %s", want)
		}
	}

	steps := []struct {
		name     string
		form     url.Values
		headers  map[string]string // nil: a same-origin form post with CSRF
		want     int
		keepName string // username the re-rendered form must keep
	}{
		{name: "wrong token", form: accountForm(wrong, "carol", secret, secret), want: 401, keepName: "carol"},
		{name: "missing token", form: accountForm("", "carol", secret, secret), want: 401, keepName: "carol"},
		{name: "no CSRF token", form: accountForm(tok, "carol", secret, secret),
			headers: map[string]string{"Origin": se.srv.URL, "Sec-Fetch-Site": "same-origin"}, want: 403},
		{name: "cross-site", form: accountForm(tok, "carol", secret, secret),
			headers: map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, want: 403},
		{name: "passwords differ", form: accountForm(tok, "carol", secret, secret+"!"), want: 400, keepName: "carol"},
		{name: "password too short", form: accountForm(tok, "carol", "short one", "short one"), want: 400, keepName: "carol"},
		{name: "reserved username", form: accountForm(tok, "admin", secret, secret), want: 400, keepName: "admin"},
		{name: "username upper-cased is kept lower", form: accountForm(tok, "Carol!", secret, secret), want: 400, keepName: "carol!"},
	}
	for _, s := range steps {
		var r resp
		if s.headers == nil {
			r = b.post(SetupAccountPath, s.form)
		} else {
			if s.name == "cross-site" {
				s.form.Set(sessions.CSRFField, b.csrf())
			}
			r = b.postRaw(SetupAccountPath, s.form, s.headers)
		}
		if r.Code != s.want {
			t.Fatalf("%s: %d, want %d: %s", s.name, r.Code, s.want, r.Body)
		}
		// Never echoed: the token (right or wrong) and the password.
		for _, secretValue := range []string{wrong, tok, secret} {
			if strings.Contains(r.Body, secretValue) {
				t.Errorf("%s: the answer echoes %q", s.name, secretValue)
			}
		}
		if s.keepName != "" && !strings.Contains(r.Body, `name="username" value="`+s.keepName+`"`) {
			t.Errorf("%s: username %q not kept in the re-rendered form", s.name, s.keepName)
		}
		if n := se.users(); n != 0 {
			t.Fatalf("%s: %d users after a refused claim", s.name, n)
		}
	}

	r = b.post(SetupAccountPath, accountForm(" "+tok+" ", "Carol", secret, secret))
	if r.Code != http.StatusFound || r.Header.Get("Location") != SetupPath {
		t.Fatalf("claim: %d → %q: %s", r.Code, r.Header.Get("Location"), r.Body)
	}
	if b.cookie(sessions.SessionCookie) == "" {
		t.Fatal("claim set no session cookie")
	}
	if r := b.get("/account/"); r.Code != http.StatusOK || !strings.Contains(r.Body, "carol") {
		t.Fatalf("/account/ after the claim: %d", r.Code)
	}
	u, err := se.store.ByName(context.Background(), "carol")
	if err != nil || !u.PasswordChanged {
		t.Fatalf("admin row: %+v, %v", u, err)
	}
	if ok, err := se.store.IsAdmin(context.Background(), u.ID); err != nil || !ok {
		t.Fatalf("carol is not the admin: %v", err)
	}
	fi, err := os.Lstat(se.opToken)
	if err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Fatalf("operator.token: %v, %v", fi, err)
	}
	opTok, _, err := auth.ReadTokenFile(se.opToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := se.tokens.Verify(context.Background(), opTok, auth.VerifyOptions{Issuers: []string{testIssuer}}); err != nil {
		t.Fatalf("operator.token does not verify: %v", err)
	}

	// Onward: the admin to the account page, anyone else to sign in.
	if r := b.get(SetupPath); r.Code != http.StatusFound || r.Header.Get("Location") != "/account/" {
		t.Errorf("GET %s signed in: %d → %q", SetupPath, r.Code, r.Header.Get("Location"))
	}
	other := se.browser()
	if r := other.get(SetupPath); r.Code != http.StatusFound || r.Header.Get("Location") != "/login" {
		t.Errorf("GET %s signed out: %d → %q", SetupPath, r.Code, r.Header.Get("Location"))
	}
	// The token is spent, for everyone.
	for _, c := range []*browser{b, other} {
		r := c.post(SetupAccountPath, accountForm(tok, "mallory", secret, secret))
		if r.Code != http.StatusGone || strings.Contains(r.Body, tok) {
			t.Errorf("second claim: %d: %s", r.Code, r.Body)
		}
	}
	if n := se.users(); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

// TestSetupKeepsAnExistingOperatorToken: the claim writes operator.token
// only when it is missing, like `auth set-password` on a fresh box must
// not revoke the token the hub minted at start.
func TestSetupKeepsAnExistingOperatorToken(t *testing.T) {
	se := newSetupEnv(t, false, Limits{})
	if err := os.WriteFile(se.opToken, []byte("existing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const pw = "a passphrase nobody guesses"
	if r := se.browser().post(SetupAccountPath, accountForm(se.boot.Token(), "carol", pw, pw)); r.Code != http.StatusFound {
		t.Fatalf("claim: %d", r.Code)
	}
	if b, _ := os.ReadFile(se.opToken); string(b) != "existing\n" {
		t.Errorf("operator.token replaced: %q", b)
	}
}

// TestSetupRacingClaims: four browsers post the right token at once;
// exactly one becomes the admin and the others get 410.
func TestSetupRacingClaims(t *testing.T) {
	se := newSetupEnv(t, false, Limits{})
	const pw = "a passphrase nobody guesses"
	type result struct {
		code int
		err  error
	}
	browsers := make([]*browser, 4)
	reqs := make([]*http.Request, 4)
	for i := range browsers {
		browsers[i] = se.browser()
		f := accountForm(se.boot.Token(), "admin"+string(rune('a'+i)), pw, pw)
		f.Set(sessions.CSRFField, browsers[i].csrf())
		reqs[i], _ = http.NewRequest("POST", se.srv.URL+SetupAccountPath, strings.NewReader(f.Encode()))
		reqs[i].Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	results := make(chan result, len(browsers))
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range browsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			res, err := browsers[i].c.Do(reqs[i])
			if err != nil {
				results <- result{err: err}
				return
			}
			res.Body.Close()
			results <- result{code: res.StatusCode}
		}()
	}
	start.Done()
	wg.Wait()
	close(results)
	counts := map[int]int{}
	for r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		counts[r.code]++
	}
	if counts[http.StatusFound] != 1 || counts[http.StatusGone] != 3 {
		t.Errorf("answers %v, want one 302 and three 410", counts)
	}
	if n := se.users(); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

// terminal is the terminal wizard's client: a cookie jar, JSON both
// ways, no browser headers, redirects not followed.
type terminal struct{ b *browser }

func (tm terminal) do(method, path string, body any, out any) resp {
	tm.b.e.t.Helper()
	var rd *strings.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = strings.NewReader(string(js))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, tm.b.e.srv.URL+path, rd)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	r := tm.b.do(req)
	if out != nil {
		if err := json.Unmarshal([]byte(r.Body), out); err != nil {
			tm.b.e.t.Fatalf("%s %s: %d, not JSON: %q", method, path, r.Code, r.Body)
		}
	}
	return r
}

// TestSetupJSON is the terminal wizard's contract (reference
// lifecycle.md §3.7): the state envelope, then the account POST in JSON.
func TestSetupJSON(t *testing.T) {
	se := newSetupEnv(t, false, Limits{})
	tm := terminal{se.browser()}
	tok := se.boot.Token()
	const pw = "a passphrase nobody guesses"

	var st setupState
	if r := tm.do("GET", SetupPath, nil, &st); r.Code != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET: %d %q", r.Code, r.Header.Get("Content-Type"))
	}
	csrf := tm.b.cookie(sessions.CSRFCookie)
	if want := (setupState{Step: "welcome", RequireBootstrapToken: true, CSRFToken: csrf}); st != want || csrf == "" {
		t.Fatalf("envelope %+v, want %+v", st, want)
	}
	body := func(token, user, p, confirm string, withCSRF bool) map[string]any {
		m := map[string]any{"bootstrap_token": token, "username": user, "password": p, "password_confirm": confirm}
		if withCSRF {
			m[sessions.CSRFField] = csrf
		}
		return m
	}
	steps := []struct {
		name  string
		body  map[string]any
		code  int
		error string
	}{
		{"no CSRF token", body(tok, "carol", pw, pw, false), 403, "Invalid form submission"},
		{"wrong token", body(tok[:len(tok)-1]+"x", "carol", pw, pw, true), 401, "Bootstrap token rejected"},
		{"bad fields", body(tok, "carol", pw, "other", true), 400, "Invalid account fields"},
	}
	for _, s := range steps {
		var e setupError
		r := tm.do("POST", SetupAccountPath, s.body, &e)
		if r.Code != s.code || e.Status != s.code || e.Error != s.error || e.Message == "" {
			t.Errorf("%s: %d %+v", s.name, r.Code, e)
		}
		if strings.Contains(r.Body, pw) || strings.Contains(r.Body, tok[:len(tok)-1]) {
			t.Errorf("%s: the answer echoes a secret: %s", s.name, r.Body)
		}
	}
	var ok setupResult
	if r := tm.do("POST", SetupAccountPath, body(tok, "carol", pw, pw, true), &ok); r.Code != http.StatusOK ||
		ok != (setupResult{Step: "done", Message: "admin created"}) {
		t.Fatalf("claim: %d %+v", r.Code, ok)
	}
	if r := tm.b.get("/account/"); r.Code != http.StatusOK {
		t.Errorf("/account/ with the wizard's session: %d", r.Code)
	}
	st = setupState{}
	tm.do("GET", SetupPath, nil, &st)
	if st.Step != "done" || !st.HasAdmin || st.RequireBootstrapToken {
		t.Errorf("envelope after the claim: %+v", st)
	}
	var gone setupError
	if r := tm.do("POST", SetupAccountPath, body(tok, "mallory", pw, pw, true), &gone); r.Code != http.StatusGone || gone.Status != 410 {
		t.Errorf("second claim: %d %+v", r.Code, gone)
	}
}

// TestSetupWithoutToken: no token this boot. With an admin (made by the
// CLI or the environment) the step is done; without one (a broken seed)
// the web cannot make an admin and says how to.
func TestSetupWithoutToken(t *testing.T) {
	const pw = "a passphrase nobody guesses"
	t.Run("no admin", func(t *testing.T) {
		se := newSetupEnv(t, true, Limits{})
		b := se.browser()
		if r := b.get(SetupPath); r.Code != http.StatusForbidden || !strings.Contains(r.Body, "auth set-password") {
			t.Errorf("GET: %d: %s", r.Code, r.Body)
		}
		if r := b.post(SetupAccountPath, accountForm("", "carol", pw, pw)); r.Code != http.StatusForbidden {
			t.Errorf("POST: %d", r.Code)
		}
		if n := se.users(); n != 0 {
			t.Errorf("users = %d", n)
		}
	})
	t.Run("admin exists", func(t *testing.T) {
		se := newSetupEnv(t, true, Limits{})
		if _, err := se.store.Create(context.Background(), "alice", pw, accounts.CreateOptions{PasswordChanged: true}); err != nil {
			t.Fatal(err)
		}
		b := se.browser()
		if r := b.get(SetupPath); r.Code != http.StatusFound || r.Header.Get("Location") != "/login" {
			t.Errorf("GET: %d → %q", r.Code, r.Header.Get("Location"))
		}
		if r := b.post(SetupAccountPath, accountForm("", "carol", pw, pw)); r.Code != http.StatusFound || r.Header.Get("Location") != SetupPath {
			t.Errorf("POST: %d → %q", r.Code, r.Header.Get("Location"))
		}
		var res setupResult
		tm := terminal{b}
		if r := tm.do("POST", SetupAccountPath, map[string]any{sessions.CSRFField: b.csrf(), "username": "carol"}, &res); r.Code != http.StatusOK ||
			res != (setupResult{Step: "done", Message: "admin already exists"}) {
			t.Errorf("JSON POST: %d %+v", r.Code, res)
		}
		if n := se.users(); n != 1 {
			t.Errorf("users = %d", n)
		}
	})
}

// TestSetupRateLimited: per client, checked after CSRF.
func TestSetupRateLimited(t *testing.T) {
	se := newSetupEnv(t, false, Limits{Setup: ratelimit.Config{Burst: 2, Per: time.Hour}})
	b := se.browser()
	const pw = "a passphrase nobody guesses"
	for i, want := range []int{401, 401, 429} {
		if r := b.post(SetupAccountPath, accountForm("nope", "carol", pw, pw)); r.Code != want {
			t.Fatalf("attempt %d: %d, want %d", i+1, r.Code, want)
		}
	}
}
