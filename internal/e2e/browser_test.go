package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

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
// out, sign in again with the password and a fresh code.
func TestBrowserSignInWithTwoFactor(t *testing.T) {
	h := newHome(t)
	h.extraEnv = []string{"PARACHUTE_INITIAL_ADMIN_USERNAME=alice", "PARACHUTE_INITIAL_ADMIN_PASSWORD=correct horse battery"}
	h.start()
	waitFor(t, "the sign-in page", 10*time.Second, func() bool {
		resp, err := http.Get(h.url("/login"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	ctx := newBrowser(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
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
}
