// Package web serves the hub's server-rendered pages: sign-in (password,
// then the second factor when enrolled), sign-out, and the account pages
// (change password, 2FA enrolment), and the first-boot wizard's account
// step (/admin/setup, which claims the bootstrap token). Pages are
// html/template files and one CSS file embedded in the binary; they need
// no JavaScript and are laid out for a phone first (STYLE.md principle 18).
//
// Each page action is one file (login.go, login_2fa.go, logout.go,
// account.go, change_password.go, account_2fa.go, setup.go); forms are decoded into
// typed structs in forms.go, which holds every validation rule. Every
// state-changing form goes through sessions.Protect (same-origin check and
// CSRF double-submit) before its rate limiter, and every response carries
// the security headers of secureHeaders.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/ratelimit"
	"github.com/openparachute/parachute/internal/sessions"
	"github.com/openparachute/parachute/internal/setupgate"
	"github.com/openparachute/parachute/internal/twofactor"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// StylePath is where the one stylesheet is served.
const StylePath = "/static/hub.css"

// Options wire a Handler. Accounts and Sessions are required.
type Options struct {
	Accounts *accounts.Store
	Sessions *sessions.Manager
	// Keyer turns a request into its rate-limit key (the client IP, from
	// a proxy header only when the proxy is trusted). Nil means the peer
	// address only.
	Keyer *ratelimit.Keyer
	// Now is the clock for rate limits, TOTP and pending sign-ins.
	Now func() time.Time
	// Logger records sign-ins and failures (discarded if nil).
	Logger *slog.Logger
	// Limits override the per-surface rate limits (tests); zero fields
	// take the reference's figures.
	Limits Limits
	// Tokens mints the account page's vault tokens, signed for Issuer
	// (the hub's canonical issuer). Without them that form answers 500.
	Tokens TokenMinter
	Issuer func() string
	// Bootstrap is the one-time token of a hub with no user (nil when
	// the admin exists or was seeded): /admin/setup claims it.
	Bootstrap *accounts.Bootstrap
	// OperatorToken writes operator.token when it is missing, after the
	// wizard creates the first admin (the hub passes
	// auth.Store.EnsureOperatorToken); nil skips it.
	OperatorToken func(context.Context) (created bool, err error)
	// Setup is the pre-admin gate of the sign-in routes; nil builds one
	// on Accounts. The hub passes the one its discovery page also reads.
	Setup *setupgate.Gate
}

// Limits are the rate limits of the pages (reference server.md §4d).
type Limits struct {
	Login          ratelimit.Config // per client IP, default 5 / 15 min
	SecondFactor   ratelimit.Config // per client IP, default 5 / 15 min
	ChangePassword ratelimit.Config // per user, default 3 / 5 min
	VaultToken     ratelimit.Config // per user, default 10 / 10 min
	Setup          ratelimit.Config // per client IP, default 10 / 15 min
}

// Handler serves the pages. Create it with New and mount it with Register.
type Handler struct {
	accounts *accounts.Store
	sess     *sessions.Manager
	pending  *sessions.PendingLogins
	totp     *twofactor.Verifier
	keyer    *ratelimit.Keyer
	log      *slog.Logger
	now      func() time.Time
	tokens   TokenMinter
	issuer   func() string
	// boot is the bootstrap token (nil: none this boot); operatorToken
	// writes operator.token for the first admin.
	boot          *accounts.Bootstrap
	operatorToken func(context.Context) (bool, error)
	// setup sends sign-in routes to /admin/setup while no user exists.
	setup *setupgate.Gate

	loginLimit, factorLimit, passwordLimit, tokenLimit, setupLimit *ratelimit.Limiter

	pages map[string]*template.Template
}

// dummyPasswordHash is an argon2id hash, with the parameters HashPassword
// uses, of a random password nobody knows. It is verified against when a
// username is unknown, so an unknown name costs the same argon2id work as
// a known one (the reference answers faster, which enumerates usernames by
// timing). Why a constant: hashing one at
// start-up cost every `serve` ~40 ms before /health turned ready and left
// argon2id's 19 MiB in the heap; verifying against a fixed hash costs an
// unknown username exactly the same work as a known one.
const dummyPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$wjwJLrRZGqPZbJn5ZX+MWw$XSpZKHQhqBUETHy0hPWOZXJgRQRQdhzUF75guReiBHQ"

// New builds a Handler.
func New(o Options) (*Handler, error) {
	if o.Accounts == nil || o.Sessions == nil {
		return nil, errors.New("web: Accounts and Sessions are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Keyer == nil {
		k, err := ratelimit.NewKeyer(nil, "")
		if err != nil {
			return nil, fmt.Errorf("building the client-IP keyer: %w", err)
		}
		o.Keyer = k
	}
	h := &Handler{accounts: o.Accounts, sess: o.Sessions, keyer: o.Keyer, log: o.Logger, now: o.Now,
		tokens: o.Tokens, issuer: o.Issuer, boot: o.Bootstrap, operatorToken: o.OperatorToken,
		pending: sessions.NewPendingLogins(o.Now, 0), totp: twofactor.NewVerifier(o.Now),
		setup: o.Setup}
	if h.setup == nil {
		h.setup = setupgate.New(o.Accounts.Count, o.Logger)
	}
	var err error
	mk := func(c ratelimit.Config, burst int, per time.Duration) *ratelimit.Limiter {
		if c.Burst == 0 {
			c = ratelimit.Config{Burst: burst, Per: per}
		}
		if c.Now == nil {
			c.Now = o.Now
		}
		l, e := ratelimit.New(c)
		if e != nil && err == nil {
			err = e
		}
		return l
	}
	h.loginLimit = mk(o.Limits.Login, 5, 15*time.Minute)
	h.factorLimit = mk(o.Limits.SecondFactor, 5, 15*time.Minute)
	h.passwordLimit = mk(o.Limits.ChangePassword, 3, 5*time.Minute)
	h.tokenLimit = mk(o.Limits.VaultToken, 10, 10*time.Minute)
	// The token has 256 bits, so this only bounds the argon2id work a
	// client can make the hub do; a typo-prone operator still has room.
	h.setupLimit = mk(o.Limits.Setup, 10, 15*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("building rate limits: %w", err)
	}
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return h, nil
}

// Register mounts the pages on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	deny := http.HandlerFunc(h.forbidden)
	form := func(f http.HandlerFunc) http.Handler { return secureHeaders(sessions.Protect(f, deny)) }
	// Until the first account exists nobody can sign in (or out): these
	// send a browser to /admin/setup and answer API clients the
	// reference's 503 setup_required (package setupgate). The gate sits
	// before the CSRF check, so a stale form is not refused first.
	// /account/* is not gated, as in the reference: without a session it
	// sends people to /login, which the gate sends on.
	gated := func(f http.Handler) http.Handler { return secureHeaders(h.setup.Wrap(f)) }
	mux.Handle("GET /login", gated(http.HandlerFunc(h.loginPage)))
	mux.Handle("POST /login", gated(sessions.Protect(http.HandlerFunc(h.loginSubmit), deny)))
	mux.Handle("POST /login/2fa", gated(sessions.Protect(http.HandlerFunc(h.secondFactorSubmit), deny)))
	mux.Handle("POST /logout", gated(sessions.Protect(http.HandlerFunc(h.logout), deny)))
	mux.Handle("GET /account", secureHeaders(http.RedirectHandler("/account/", http.StatusMovedPermanently)))
	mux.Handle("GET /account/{$}", secureHeaders(http.HandlerFunc(h.accountPage)))
	mux.Handle("GET /account/change-password", secureHeaders(http.HandlerFunc(h.changePasswordPage)))
	mux.Handle("POST /account/change-password", form(h.changePasswordSubmit))
	mux.Handle("GET /account/2fa", secureHeaders(http.HandlerFunc(h.twoFactorPage)))
	mux.Handle("POST /account/2fa", form(h.twoFactorSubmit))
	mux.Handle("POST /account/vault-token/{name}", form(h.vaultTokenSubmit))
	mux.Handle("GET "+SetupPath, secureHeaders(http.HandlerFunc(h.setupPage)))
	// The terminal wizard posts JSON: jsonForm turns it into the form the
	// CSRF check reads, and refusals answer in JSON.
	mux.Handle("POST "+SetupAccountPath, secureHeaders(jsonForm(sessions.Protect(http.HandlerFunc(h.setupAccountSubmit),
		http.HandlerFunc(h.setupForbidden)))))
	// The one stylesheet by name: a file server on the directory would
	// also list it.
	mux.Handle("GET "+StylePath, secureHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, staticFS, "static/hub.css")
	})))
}

// Paths are the path patterns Register serves, for a router that must
// send them here (the hub's mux falls through to the module proxy).
var Paths = []string{"/login", "/login/2fa", "/logout", "/account", "/account/", "/static/",
	SetupPath, SetupAccountPath}

// ContentSecurityPolicy is sent on every page: nothing but our own
// stylesheet and inline data: images (the QR code), forms only to
// ourselves, never framed.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secureHeaders adds the headers every page carries. no-store because the
// pages hold CSRF tokens, TOTP secrets and backup codes.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: under no-referrer browsers send
		// "Origin: null" on our own form posts, which the origin check
		// must then refuse from any browser without Sec-Fetch-Site.
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// forbidden answers a form that failed the origin or CSRF check.
func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request) {
	h.log.Warn("form refused: cross-origin or bad CSRF token", "path", r.URL.Path)
	h.render(w, r, http.StatusForbidden, "error", page{Title: "Form expired",
		Error: "This form expired or came from another site. Go back, reload the page and try again."})
}

// limited answers 429 when d refuses the attempt, and reports whether it did.
func (h *Handler) limited(w http.ResponseWriter, r *http.Request, d ratelimit.Decision) bool {
	if d.Allowed {
		return false
	}
	w.Header().Set("Retry-After", d.RetryAfterSeconds())
	h.render(w, r, http.StatusTooManyRequests, "error", page{Title: "Too many attempts",
		Error: "Too many attempts. Wait " + d.RetryAfterSeconds() + " seconds and try again."})
	return true
}

// internalError logs err and shows a generic page (no SQL or argon2
// details reach the browser).
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("page failed", "path", r.URL.Path, "err", err)
	h.render(w, r, http.StatusInternalServerError, "error", page{Title: "Something went wrong",
		Error: "Something went wrong on the hub. Check its log (parachute logs) and try again."})
}
