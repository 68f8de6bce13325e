package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/openparachute/parachute/internal/accounts"
)

// loginPage is GET /login: the username and password form. A signed-in
// visitor goes straight to next.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if uid, ok := h.sess.Current(r); ok {
		http.Redirect(w, r, safeNext(next, h.isAdmin(r.Context(), uid)), http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Next: next})
}

// loginSubmit is POST /login (after the CSRF middleware): rate limit,
// password check, then either the 2FA challenge or a new session.
func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if h.limited(w, r, h.loginLimit.Allow(h.keyer.Key(r))) {
		return
	}
	f, err := decodeLogin(r.PostForm)
	if errors.Is(err, errTooLong) {
		h.render(w, r, http.StatusRequestEntityTooLarge, "login", page{Title: "Sign in", Next: f.Next,
			Error: "That password is too long."})
		return
	}
	if err != nil {
		h.render(w, r, http.StatusBadRequest, "login", page{Title: "Sign in", Next: f.Next, Username: f.Username, Error: err.Error()})
		return
	}
	u, ok, err := h.checkPassword(r.Context(), f.Username, f.Password)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if !ok {
		h.log.Info("sign-in refused", "client", h.keyer.Key(r))
		h.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in", Next: f.Next, Username: f.Username,
			Error: "Invalid credentials."})
		return
	}
	next := safeNext(f.Next, h.isAdmin(r.Context(), u.ID))
	if u.TOTPEnrolled {
		// No session yet: the second factor decides.
		raw, err := h.pending.Add(u.ID, next)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		http.SetCookie(w, h.sess.PendingCookie(r, raw))
		h.render(w, r, http.StatusOK, "login_2fa", page{Title: "Two-factor code"})
		return
	}
	h.signIn(w, r, u, next)
}

// checkPassword verifies a username and password. An unknown user still
// costs one argon2id verification, against a dummy hash.
func (h *Handler) checkPassword(ctx context.Context, username, password string) (*accounts.User, bool, error) {
	u, err := h.accounts.ByName(ctx, username)
	if errors.Is(err, accounts.ErrUserNotFound) {
		_, _ = verifyPassword(dummyPasswordHash, password)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	ok, err := verifyPassword(u.PasswordHash, password)
	if err != nil {
		return nil, false, err
	}
	return u, ok, nil
}

// signIn starts a fresh session for u and sends the browser on: to next,
// or first to the change-password page when an admin chose u's password.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, u *accounts.User, next string) {
	if _, err := h.sess.Start(w, r, u.ID); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.log.Info("signed in", "user", u.Username, "client", h.keyer.Key(r))
	if !u.PasswordChanged {
		next = "/account/change-password?next=" + url.QueryEscape(next)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// isAdmin reports whether uid is the first admin; errors count as not.
func (h *Handler) isAdmin(ctx context.Context, uid string) bool {
	ok, err := h.accounts.IsAdmin(ctx, uid)
	return err == nil && ok
}

// verifyPassword is accounts.VerifyPassword; a test counts its calls to
// prove an unknown username costs one verification too.
var verifyPassword = accounts.VerifyPassword
