package e2e

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/testenv"
)

// newBrowser starts a headless Debian chromium with a fresh profile at
// a phone's size (390×844) and returns a chromedp context on it; the
// browser is gone when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Unavailable(t, "needs Debian's chromium (apt-get install chromium): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		// Why no sandbox: CI and this test run as root in a container,
		// where chromium's sandbox cannot start; the pages are our own.
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first call starts the browser, which lives as long as ctx: no
	// timeout on it (chromedp's rule); later steps get their own.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// screenshot saves the page as <name>.png under
// $PARACHUTE_E2E_SCREENSHOTS when that is set (for a human to look at).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PARACHUTE_E2E_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 means PNG; below is JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tab drives the page of newBrowser's context: each step has 30 s, and a
// step that fails fails the test.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// run does actions, what naming them in the failure.
func (b *tab) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text is the text of the element sel selects.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return tabGet(b, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// eval is the string the script js evaluates to.
func (b *tab) eval(js string) string {
	b.t.Helper()
	return tabGet(b, "evaluating "+js, chromedp.Evaluate[string](js))
}

func tabGet[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBrowserSignInWithTwoFactor drives a real chromium through a real
// `parachute serve`: sign in, enrol 2FA with a code computed here, sign
// out, sign in again with the password and a fresh code, then consent to
// a client that registered itself and follow the code to its redirect_uri.
func TestBrowserSignInWithTwoFactor(t *testing.T) {
	h := startWithAlice(t)
	ctx := newBrowser(t)
	bt := &tab{t: t, ctx: ctx}
	run, text := bt.run, bt.text
	login := func() {
		run("signing in with the password",
			chromedp.Navigate(h.url("/login")),
			chromedp.WaitVisible(chromedp.CSS(`#username`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
			chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
			chromedp.Submit(chromedp.CSS(`#password`)),
		)
	}

	run("opening the sign-in page", chromedp.Navigate(h.url("/login")), chromedp.WaitVisible(chromedp.CSS(`#username`)))
	screenshot(t, ctx, "login")
	login()
	run("landing on the account page", chromedp.WaitVisible(chromedp.CSS(`ul.links`)))
	who := text("main")
	if !strings.Contains(who, "Signed in as alice") {
		t.Fatalf("account page: %q", who)
	}

	run("starting 2FA enrolment",
		chromedp.Navigate(h.url("/account/2fa")),
		chromedp.WaitVisible(chromedp.CSS(`form button`)),
		chromedp.Click(chromedp.CSS(`form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	secret := text("#secret")
	screenshot(t, ctx, "enrol-2fa")
	enrolCode := totpCode(t, strings.TrimSpace(secret), time.Now())
	run("confirming enrolment with a computed code",
		chromedp.SendKeys(chromedp.CSS(`#code`), enrolCode),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.codes`)),
	)
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("ol.codes code")].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("backup codes shown: %d, want 10", len(codes))
	}
	screenshot(t, ctx, "backup-codes")

	run("signing out",
		chromedp.Navigate(h.url("/account/")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
	)
	run("checking the session ended",
		chromedp.Navigate(h.url("/account/")),
		chromedp.WaitVisible(chromedp.CSS(`#username`)), // sent back to /login
	)

	login()
	run("reaching the 2FA challenge", chromedp.WaitVisible(chromedp.CSS(`#code`)))
	screenshot(t, ctx, "login-2fa")
	// The enrolment code is spent (replay cache); take the next step's
	// code when the clock has not moved on, which ±1 step accepts.
	code := totpCode(t, strings.TrimSpace(secret), time.Now())
	if code == enrolCode {
		code = totpCode(t, strings.TrimSpace(secret), time.Now().Add(30*time.Second))
	}
	run("signing in with the code",
		chromedp.SendKeys(chromedp.CSS(`#code`), code),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.links`)),
	)
	who = text("main")
	if !strings.Contains(who, "Two-factor sign-in: on") {
		t.Fatalf("account page after 2FA sign-in: %q", who)
	}

	// Consent to a client that registered itself (pending): the page says
	// the app is new, Allow approves it and sends the browser to its
	// redirect_uri with a code that the token endpoint takes with PKCE.
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><p id="q">`+html.EscapeString(r.URL.RawQuery)+`</p>`)
	}))
	t.Cleanup(cb.Close)
	status, reg, err := register(t, h.url(""), `{"redirect_uris":["`+cb.URL+`/cb"],"client_name":"Phone app"}`, "")
	if err != nil || status != 201 || reg.Status != "pending" {
		t.Fatalf("anonymous DCR: %d %+v %v, want 201 pending", status, reg, err)
	}
	cfg := adminClient(h.url(""), reg.ClientID, cb.URL+"/cb")
	verifier := oauth2.GenerateVerifier()
	run("opening the consent page",
		chromedp.Navigate(cfg.AuthCodeURL("phone", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`button[value="approve"]`)),
	)
	screenshot(t, ctx, "consent")
	if page := text("body"); !strings.Contains(page, "Allow Phone app?") || !strings.Contains(page, "This app is new") ||
		!strings.Contains(page, "hub:admin") {
		t.Fatalf("consent page: %q", page)
	}
	run("allowing the client",
		chromedp.Click(chromedp.CSS(`button[value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#q`)),
	)
	q, err := url.ParseQuery(text("#q"))
	if err != nil || q.Get("state") != "phone" || q.Get("code") == "" {
		t.Fatalf("redirect_uri reached with %q (%v), want state=phone and a code", text("#q"), err)
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.AccessToken == "" || tok.Extra("scope") != "hub:admin" {
		t.Fatalf("exchanging the consented code: %+v %v", tok, err)
	}
}

// TestBrowserClaimsTheBootstrapToken drives a phone-sized chromium
// through the first-boot claim on a real `parachute serve` with no admin
// and no PARACHUTE_INITIAL_ADMIN_*: the token is read from the hub's
// [wizard] log line, a wrong one is refused without being echoed, the
// right one makes the admin, who lands signed in on /account/.
func TestBrowserClaimsTheBootstrapToken(t *testing.T) {
	h := newHome(t)
	h.start()
	tokenRE := regexp.MustCompile(`\[wizard\].*/admin/setup.*(parachute-bootstrap-[A-Za-z0-9_-]{43})`)
	var token string
	waitFor(t, "the [wizard] banner", 10*time.Second, func() bool {
		if m := tokenRE.FindStringSubmatch(h.out.String()); m != nil {
			token = m[1]
			return true
		}
		return false
	})
	ctx := newBrowser(t)
	bt := &tab{t: t, ctx: ctx}
	run, eval := bt.run, bt.eval
	const pw = "a passphrase for the phone"
	fill := func(tok string) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{
			chromedp.WaitVisible(chromedp.CSS(`#bootstrap_token`)),
			chromedp.SendKeys(chromedp.CSS(`#bootstrap_token`), tok),
			chromedp.SendKeys(chromedp.CSS(`#password`), pw),
			chromedp.SendKeys(chromedp.CSS(`#password_confirm`), pw),
			chromedp.Submit(chromedp.CSS(`#password_confirm`)),
		}
	}
	run("opening the setup page", chromedp.Navigate(h.url("/admin/setup")), chromedp.WaitVisible(chromedp.CSS(`#bootstrap_token`)))
	// Laid out for the phone: nothing wider than the 390 px viewport.
	const fits = `document.documentElement.scrollWidth <= window.innerWidth ? "fits" : ` +
		`document.documentElement.scrollWidth + " px wide in " + window.innerWidth`
	if w := eval(fits); w != "fits" {
		t.Errorf("setup page is %s: it scrolls sideways on a phone", w)
	}
	screenshot(t, ctx, "setup")
	wrong := accounts.BootstrapPrefix + strings.Repeat("A", 43)
	run("pasting a wrong token", fill(wrong)...)
	run("seeing the refusal", chromedp.WaitVisible(chromedp.CSS(`p.error`)))
	if body := eval(`document.documentElement.outerHTML`); strings.Contains(body, wrong) || !strings.Contains(body, `value="owner"`) {
		t.Fatalf("refusal page echoes the token or lost the username")
	}
	run("pasting the right token", fill(token)...)
	run("landing on the account page", chromedp.WaitVisible(chromedp.CSS(`ul.links`)))
	if who := eval(`document.querySelector("main").innerText`); !strings.Contains(who, "Signed in as owner") {
		t.Fatalf("account page after the claim: %q", who)
	}
	screenshot(t, ctx, "setup-done")
	if _, err := os.Lstat(filepath.Join(h.root, "operator.token")); err != nil {
		t.Errorf("no operator.token after the claim: %v", err)
	}
	// The token is spent: a second visitor (with its own CSRF cookie)
	// gets 410.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	req, _ := http.NewRequest("GET", h.url("/admin/setup"), nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Step      string `json:"step"`
		CSRFToken string `json:"csrfToken"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Step != "done" || st.CSRFToken == "" {
		t.Fatalf("setup state after the claim: %+v, %v", st, err)
	}
	form := url.Values{"bootstrap_token": {token}, "username": {"mallory"}, "password": {pw}, "password_confirm": {pw},
		"__csrf": {st.CSRFToken}}
	resp, err = c.PostForm(h.url("/admin/setup/account"), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Errorf("second claim: %d, want 410", resp.StatusCode)
	}
}
