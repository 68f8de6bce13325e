package web

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/sessions"
)

// The first-boot wizard's account step (reference server.md §1b, §3c):
// GET /admin/setup and POST /admin/setup/account. A fresh hub with no
// user and no PARACHUTE_INITIAL_ADMIN_* logs a one-time bootstrap token;
// whoever pastes it here with a username and password becomes the first
// admin. The vault and expose steps of the reference's wizard are CLI
// verbs here (`parachute install vault`, `parachute expose`), so once an
// admin exists the wizard is done.

// Paths of the wizard.
const (
	SetupPath        = "/admin/setup"
	SetupAccountPath = "/admin/setup/account"
)

// Wizard steps in the JSON envelope (the reference's names).
const (
	stepWelcome = "welcome" // no admin yet: the account form
	stepDone    = "done"
)

// setupState is GET /admin/setup's JSON envelope for the terminal wizard
// (reference lifecycle.md §3.7). hasVault and hasExposeMode stay false:
// this hub's wizard has the account step only.
type setupState struct {
	Step                  string `json:"step"`
	HasAdmin              bool   `json:"hasAdmin"`
	HasVault              bool   `json:"hasVault"`
	HasExposeMode         bool   `json:"hasExposeMode"`
	RequireBootstrapToken bool   `json:"requireBootstrapToken"`
	CSRFToken             string `json:"csrfToken"`
}

// setupResult is the JSON answer of a POST that succeeded (or found the
// admin already made without a token).
type setupResult struct {
	Step    string `json:"step"`
	Message string `json:"message"`
}

// setupError is the JSON answer of a refused POST: the reference's
// {error, message, status}.
type setupError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Status  int    `json:"status"`
}

// Messages of the account step, shared by the HTML and JSON answers.
const (
	msgTokenRejected = "Wrong setup token. Copy the parachute-bootstrap-… value again from the hub's log " +
		"(the line starting with [wizard]) and retry."
	msgClaimed = "This hub's one-time setup token was already used to create the admin. Sign in at /login; " +
		"if the password is lost, run `parachute auth set-password` on the hub's machine."
	msgClosed = "This hub has no one-time setup token. Create the first admin on the hub's machine with " +
		"`parachute auth set-password`, or set PARACHUTE_INITIAL_ADMIN_USERNAME and " +
		"PARACHUTE_INITIAL_ADMIN_PASSWORD and restart the hub."
	msgCreateFailed = "Could not create the account. Check the hub's log (parachute logs) and retry, or run " +
		"`parachute auth set-password` on the hub's machine."
)

// setupPage is GET /admin/setup.
func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request) {
	need, err := h.setup.NeedsSetup(r.Context())
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	hasAdmin := !need
	if acceptsJSON(r) {
		csrf, err := h.sess.CSRFToken(w, r)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		st := setupState{Step: stepWelcome, HasAdmin: hasAdmin, RequireBootstrapToken: h.tokenActive(), CSRFToken: csrf}
		if hasAdmin {
			st.Step = stepDone
		}
		writeJSON(w, http.StatusOK, st)
		return
	}
	if hasAdmin {
		to := "/login"
		if _, ok := h.sess.Current(r); ok {
			to = "/account/"
		}
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	if h.boot == nil {
		h.render(w, r, http.StatusForbidden, "error", page{Title: "Setup is closed", Error: msgClosed})
		return
	}
	h.render(w, r, http.StatusOK, "setup", setupView("owner", ""))
}

// setupView is the account form, with username kept and an error. The
// token and password fields are always empty: a wrong token is never
// echoed, so the operator copies it again rather than fixing a typo.
func setupView(username, msg string) page {
	return page{Title: "Set up your hub", SetupUsername: username, BootstrapRequired: true, Error: msg}
}

// setupAccountSubmit is POST /admin/setup/account (after the CSRF
// middleware, which also refuses cross-origin posts): rate limit, then
// the reference's order: an existing admin (410, or "already exists"
// when no token was ever active), the token (401), the fields (400),
// the claim; then a session, the operator token if missing, and a 302
// back to /admin/setup, which sends the new admin on.
func (h *Handler) setupAccountSubmit(w http.ResponseWriter, r *http.Request) {
	asJSON := isJSONBody(r)
	if d := h.setupLimit.Allow(h.keyer.Key(r)); !d.Allowed {
		if asJSON {
			w.Header().Set("Retry-After", d.RetryAfterSeconds())
			writeJSON(w, http.StatusTooManyRequests, setupError{Error: "Too many attempts",
				Message: "Wait " + d.RetryAfterSeconds() + " seconds and try again.", Status: http.StatusTooManyRequests})
			return
		}
		h.limited(w, r, d)
		return
	}
	ctx := r.Context()
	n, err := h.accounts.Count(ctx)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if n > 0 {
		if h.boot == nil {
			// No token was active this boot (the admin came from the
			// CLI or the environment): the step is simply done.
			if asJSON {
				writeJSON(w, http.StatusOK, setupResult{Step: stepDone, Message: "admin already exists"})
				return
			}
			http.Redirect(w, r, SetupPath, http.StatusFound)
			return
		}
		h.setupGone(w, r, asJSON)
		return
	}
	if h.boot == nil {
		h.setupFail(w, r, asJSON, http.StatusForbidden, "Setup is closed", msgClosed, "")
		return
	}
	f, ferr := decodeSetup(r.PostForm)
	switch err := h.boot.Check(f.Token); {
	case errors.Is(err, accounts.ErrBootstrapUsed):
		h.setupGone(w, r, asJSON)
		return
	case err != nil:
		h.log.Warn("setup refused: wrong bootstrap token", "client", h.keyer.Key(r))
		h.setupFail(w, r, asJSON, http.StatusUnauthorized, "Bootstrap token rejected", msgTokenRejected, f.Username)
		return
	}
	if errors.Is(ferr, errTooLong) {
		h.setupFail(w, r, asJSON, http.StatusRequestEntityTooLarge, "Invalid account fields",
			"That password is too long.", f.Username)
		return
	}
	if ferr != nil {
		h.setupFail(w, r, asJSON, http.StatusBadRequest, "Invalid account fields", ferr.Error(), f.Username)
		return
	}
	u, err := h.boot.Claim(ctx, f.Token, f.Username, f.Password)
	switch {
	case errors.Is(err, accounts.ErrBootstrapUsed):
		h.setupGone(w, r, asJSON)
		return
	case errors.Is(err, accounts.ErrBootstrapInvalid):
		h.setupFail(w, r, asJSON, http.StatusUnauthorized, "Bootstrap token rejected", msgTokenRejected, f.Username)
		return
	case errors.Is(err, accounts.ErrInvalidUsername), errors.Is(err, accounts.ErrInvalidPassword):
		h.setupFail(w, r, asJSON, http.StatusBadRequest, "Invalid account fields", fieldMessage(err), f.Username)
		return
	case err != nil:
		h.log.Error("creating the first admin failed", "err", err)
		h.setupFail(w, r, asJSON, http.StatusInternalServerError, "Account creation failed", msgCreateFailed, f.Username)
		return
	}
	h.log.Info("first admin created through /admin/setup", "user", u.Username, "client", h.keyer.Key(r))
	// Like `auth set-password` on a fresh box: the CLI needs an operator
	// token. An existing one is kept; a failure is logged and never
	// undoes the account the operator just made.
	if h.operatorToken != nil {
		if created, err := h.operatorToken(ctx); err != nil {
			h.log.Warn("could not write the operator token; run `parachute auth rotate-operator`", "err", err)
		} else if created {
			h.log.Info("minted the operator token for the first admin")
		}
	}
	if _, err := h.sess.Start(w, r, u.ID); err != nil {
		h.internalError(w, r, err)
		return
	}
	if asJSON {
		writeJSON(w, http.StatusOK, setupResult{Step: stepDone, Message: "admin created"})
		return
	}
	http.Redirect(w, r, SetupPath, http.StatusFound)
}

// setupGone answers 410: the token was claimed (or an admin exists while
// one was active).
func (h *Handler) setupGone(w http.ResponseWriter, r *http.Request, asJSON bool) {
	if asJSON {
		writeJSON(w, http.StatusGone, setupError{Error: "Admin already claimed",
			Message: "Bootstrap token was already used. Sign in at /login.", Status: http.StatusGone})
		return
	}
	h.render(w, r, http.StatusGone, "error", page{Title: "Admin already claimed", Error: msgClaimed})
}

// setupFail answers a refused POST: JSON, or the form again with the
// username kept (never the token or the password).
func (h *Handler) setupFail(w http.ResponseWriter, r *http.Request, asJSON bool, status int, title, msg, username string) {
	if asJSON {
		writeJSON(w, status, setupError{Error: title, Message: msg, Status: status})
		return
	}
	if h.boot == nil {
		h.render(w, r, status, "error", page{Title: title, Error: msg})
		return
	}
	h.render(w, r, status, "setup", setupView(username, msg))
}

// setupForbidden answers a setup POST that failed the origin or CSRF
// check, in JSON for the terminal wizard.
func (h *Handler) setupForbidden(w http.ResponseWriter, r *http.Request) {
	if !isJSONBody(r) {
		h.forbidden(w, r)
		return
	}
	h.log.Warn("setup refused: cross-origin or bad CSRF token", "path", r.URL.Path)
	writeJSON(w, http.StatusForbidden, setupError{Error: "Invalid form submission",
		Message: "Reload and try again: GET /admin/setup for a fresh CSRF token.", Status: http.StatusForbidden})
}

// fieldMessage turns a validation error of package accounts into the
// sentence after its sentinel ("invalid username: username must be …").
func fieldMessage(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, ": "); ok {
		msg = rest
	}
	if msg == "" {
		return "Check the username and password."
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// tokenActive reports whether a bootstrap token can still be claimed.
func (h *Handler) tokenActive() bool { return h.boot != nil && !h.boot.Used() }

// acceptsJSON reports whether r asks for the JSON envelope (the terminal
// wizard sends Accept: application/json; browsers send text/html).
func acceptsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// isJSONBody reports whether r's body is JSON.
func isJSONBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// jsonForm lets the terminal wizard post JSON: for a JSON body it decodes
// the top-level string, number and boolean fields (body capped at
// sessions.MaxFormBytes) into r.PostForm, so the CSRF middleware (which
// reads __csrf from PostForm) and the handler see one shape. Malformed
// or oversized JSON leaves the form empty, which the CSRF check refuses.
func jsonForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && isJSONBody(r) {
			form := url.Values{}
			var m map[string]any
			if json.NewDecoder(http.MaxBytesReader(w, r.Body, sessions.MaxFormBytes)).Decode(&m) == nil {
				for k, v := range m {
					switch v := v.(type) {
					case string:
						form.Set(k, v)
					case float64:
						form.Set(k, strconv.FormatFloat(v, 'f', -1, 64))
					case bool:
						form.Set(k, strconv.FormatBool(v))
					}
				}
			}
			r.PostForm = form // ParseForm keeps a non-nil PostForm
		}
		next.ServeHTTP(w, r)
	})
}

// writeJSON writes v with status, uncached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
