package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/openparachute/parachute/internal/sessions"
)

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	e := newEnv(t)
	phone, laptop := e.browser(), e.browser()
	phone.login("alice", testPassword, "")
	laptop.login("alice", testPassword, "")
	const newPass = "a much better passphrase"
	bad := laptop.post("/account/change-password", url.Values{"current_password": {"wrong wrong wrong"},
		"new_password": {newPass}, "confirm_password": {newPass}})
	if bad.Code != http.StatusUnauthorized {
		t.Fatalf("wrong current password: %d", bad.Code)
	}
	r := laptop.post("/account/change-password", url.Values{"current_password": {testPassword},
		"new_password": {newPass}, "confirm_password": {newPass}})
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/account/?changed=1" {
		t.Fatalf("change: %d %q %s", r.Code, r.Header.Get("Location"), r.Body)
	}
	if r := laptop.get("/account/?changed=1"); r.Code != 200 || !strings.Contains(r.Body, "Password changed") {
		t.Errorf("the changing session was signed out: %d", r.Code)
	}
	if r := phone.get("/account/"); r.Code != http.StatusSeeOther {
		t.Errorf("other session still signed in: %d", r.Code)
	}
	if r := e.browser().login("alice", newPass, ""); r.Code != http.StatusSeeOther {
		t.Errorf("new password refused: %d", r.Code)
	}
}

func TestChangePasswordRateLimitPerUser(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice", testPassword, "")
	form := func() url.Values {
		return url.Values{"current_password": {"wrong wrong wrong"}, "new_password": {"x"}, "confirm_password": {"x"}}
	}
	for i := range 3 {
		if r := b.post("/account/change-password", form()); r.Code == http.StatusTooManyRequests {
			t.Fatalf("attempt %d limited", i+1)
		}
	}
	if r := b.post("/account/change-password", form()); r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("4th attempt: %d", r.Code)
	}
}

// codeAt computes the TOTP code a phone would show at t.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTwoFactorEnrolLoginReplayBackupDisable(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice", testPassword, "")
	start := b.post("/account/2fa", url.Values{"action": {"start"}})
	m := secretRE.FindStringSubmatch(start.Body)
	if start.Code != 200 || m == nil || !strings.Contains(start.Body, `src="data:image/svg`) {
		t.Fatalf("start: %d %s", start.Code, start.Body)
	}
	secret := m[1]
	if r := b.post("/account/2fa", url.Values{"action": {"confirm"}, "secret": {secret}, "code": {"000000"}}); r.Code != 400 {
		t.Fatalf("wrong code at confirm: %d", r.Code)
	}
	conf := b.post("/account/2fa", url.Values{"action": {"confirm"}, "secret": {secret}, "code": {codeAt(t, secret, e.clk.Now())}})
	codes := codeRE.FindAllStringSubmatch(conf.Body, -1)
	if conf.Code != 200 || len(codes) != 10 {
		t.Fatalf("confirm: %d, %d backup codes", conf.Code, len(codes))
	}

	// Sign in again: the password alone gives no session.
	e.clk.Add(time.Minute)
	c := e.browser()
	r := c.login("alice", testPassword, "/account/2fa")
	if r.Code != 200 || !strings.Contains(r.Body, `action="/login/2fa"`) || c.cookie(sessions.SessionCookie) != "" {
		t.Fatalf("password step: %d session=%q", r.Code, c.cookie(sessions.SessionCookie))
	}
	if r := c.post("/login/2fa", url.Values{"code": {"123456"}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", r.Code)
	}
	code := codeAt(t, secret, e.clk.Now())
	r = c.post("/login/2fa", url.Values{"code": {code}})
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/account/2fa" {
		t.Fatalf("right code: %d %q", r.Code, r.Header.Get("Location"))
	}
	// The same code again, from another sign-in: a replay.
	d := e.browser()
	d.login("alice", testPassword, "")
	if r := d.post("/login/2fa", url.Values{"code": {code}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("replayed code: %d", r.Code)
	}
	if r := d.post("/login/2fa", url.Values{"code": {codes[0][1]}}); r.Code != http.StatusSeeOther {
		t.Fatalf("backup code: %d", r.Code)
	}
	f := e.browser()
	f.login("alice", testPassword, "")
	if r := f.post("/login/2fa", url.Values{"code": {codes[0][1]}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("spent backup code: %d", r.Code)
	}
	// The pending sign-in lapses after 5 minutes.
	e.clk.Add(5 * time.Minute)
	if r := f.post("/login/2fa", url.Values{"code": {codes[1][1]}}); r.Code != http.StatusUnauthorized ||
		!strings.Contains(r.Body, "expired") {
		t.Fatalf("stale pending sign-in: %d", r.Code)
	}
	// Disable needs the password.
	if r := c.post("/account/2fa", url.Values{"action": {"disable"}, "password": {"wrong wrong wrong"}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("disable with a wrong password: %d", r.Code)
	}
	if r := c.post("/account/2fa", url.Values{"action": {"disable"}, "password": {testPassword}}); r.Code != 200 {
		t.Fatalf("disable: %d", r.Code)
	}
	if r := e.browser().login("alice", testPassword, ""); r.Code != http.StatusSeeOther {
		t.Errorf("login after disable: %d", r.Code)
	}
}

func TestSecondFactorRateLimit(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for i := range 5 {
		if r := b.post("/login/2fa", url.Values{"code": {"123456"}}); r.Code == http.StatusTooManyRequests {
			t.Fatalf("attempt %d limited", i+1)
		}
	}
	if r := b.post("/login/2fa", url.Values{"code": {"123456"}}); r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("6th attempt: %d", r.Code)
	}
}
