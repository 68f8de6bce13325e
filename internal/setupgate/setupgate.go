// Package setupgate answers the routes that need an account while the hub
// has none: the reference hub's pre-admin lockout (reference server.md
// §1a, its hub-server.ts shouldGateForSetup), with its defects fixed.
//
// The reference answers 503 {error: "setup_required", error_description,
// setup_url: "/admin/setup"} (Cache-Control: no-store) on /login, /logout,
// /admin/* but the wizard, and /api/* while the users table is empty. Here:
//
//   - A browser (Accept names text/html) is redirected to the setup page
//     instead: the reference's JSON 503 shows as raw text in a browser tab,
//     which its own comment on the "/" funnel concedes. Other clients get
//     the reference's JSON, byte for byte the same keys.
//   - /oauth/authorize is gated too. The reference lets it through and
//     shows a sign-in form that no one can pass; the person at a fresh
//     hub's browser is its owner, who needs the setup page instead.
//   - /api/* is not gated: every /api route already needs a bearer, and
//     the operator token is an identity of its own that works before any
//     account exists (the CLI's install, status and auth verbs use it on a
//     fresh hub). /oauth/register, /oauth/token and /oauth/revoke pass, as
//     in the reference: no code or refresh token can exist before a user
//     does, and an operator-token registration is legitimate then.
//   - The discovery page (/ and /hub.html for a browser) reads the same
//     Gate for the reference's fresh-hub funnel (302 to the setup page),
//     without the reference's "no vault yet" condition: installing a
//     vault is a CLI verb here, not a wizard step.
//   - "Does a user exist" is a COUNT on every gated request in the
//     reference; a Gate remembers the first yes. No user can make it false
//     again while the hub runs: /api/users refuses to delete the first
//     admin, and nothing else deletes users.
package setupgate

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
)

// SetupPath is the first-boot wizard's page, where the first admin is made.
const SetupPath = "/admin/setup"

// ErrorCode is the reference's error code for a hub with no admin yet.
const ErrorCode = "setup_required"

// Description tells an API client what to do; it names every way to make
// the first admin (the reference's names only the environment).
const Description = "no admin account exists yet. Open /admin/setup and paste the one-time setup token from the " +
	"hub's log, run `parachute auth set-password` on the hub's machine, or set PARACHUTE_INITIAL_ADMIN_USERNAME " +
	"and PARACHUTE_INITIAL_ADMIN_PASSWORD and restart the hub."

// Body is the JSON answer of a gated route (the reference's shape).
type Body struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	SetupURL    string `json:"setup_url"`
}

// Gate reports whether the hub still needs its first account, and answers
// gated requests until it has one. It is safe for concurrent use.
type Gate struct {
	count func(context.Context) (int, error)
	log   *slog.Logger
	// done latches once a user was seen; from then on no query is made.
	done atomic.Bool
}

// New returns a Gate that counts users with count. A nil logger discards.
func New(count func(context.Context) (int, error), log *slog.Logger) *Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gate{count: count, log: log}
}

// NeedsSetup reports whether no user exists yet. After the first false it
// answers from memory.
func (g *Gate) NeedsSetup(ctx context.Context) (bool, error) {
	if g.done.Load() {
		return false, nil
	}
	n, err := g.count(ctx)
	if err != nil {
		return false, err
	}
	if n > 0 {
		g.done.Store(true)
		return false, nil
	}
	return true, nil
}

// Intercept answers r and reports true while the hub has no user: a
// browser is redirected to SetupPath (302 for GET and HEAD, 303 otherwise,
// so a form post becomes a GET of the page), any other client gets 503
// with Body. When the count fails it lets r through (false): the gate is
// guidance, not access control (every gated route checks credentials of
// its own), and the route's own handler reports the broken database.
func (g *Gate) Intercept(w http.ResponseWriter, r *http.Request) bool {
	need, err := g.NeedsSetup(r.Context())
	if err != nil {
		g.log.Warn("could not tell whether an admin exists; serving the route", "path", r.URL.Path, "err", err)
		return false
	}
	if !need {
		return false
	}
	w.Header().Set("Cache-Control", "no-store")
	if WantsHTML(r.Header.Get("Accept")) {
		code := http.StatusSeeOther
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			code = http.StatusFound
		}
		http.Redirect(w, r, SetupPath, code)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(Body{Error: ErrorCode, Description: Description, SetupURL: SetupPath})
	return true
}

// Wrap returns next behind the gate.
func (g *Gate) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.Intercept(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WantsHTML reports whether an Accept header names text/html (or
// application/xhtml+xml) as one of its media ranges, as every browser's
// navigation and form post does, unless with q=0; curl's "*/*", an absent
// header and "application/json" do not.
func WantsHTML(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		mt = strings.TrimSpace(mt)
		if !strings.EqualFold(mt, "text/html") && !strings.EqualFold(mt, "application/xhtml+xml") {
			continue
		}
		if !refused(params) {
			return true
		}
	}
	return false
}

// refused reports whether media-range parameters carry q=0 (RFC 9110
// §12.4.2: "not acceptable"), in any of its spellings 0, 0.0, 0.000.
func refused(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		return strings.Trim(v, "0.") == "" && strings.HasPrefix(v, "0")
	}
	return false
}
