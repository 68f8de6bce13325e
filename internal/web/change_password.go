package web

import (
	"errors"
	"net/http"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/sessions"
)

// changePasswordPage is GET /account/change-password.
func (h *Handler) changePasswordPage(w http.ResponseWriter, r *http.Request) {
	u, ok := h.requireUser(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "change_password", page{Title: "Change password", Username: u.Username,
		Next: r.URL.Query().Get("next"), MustChange: !u.PasswordChanged})
}

// changePasswordSubmit is POST /account/change-password (after the CSRF
// middleware): per-user rate limit, the current password, the new one;
// then every other session of the user ends (the reference keeps them,
// which leaves a thief signed in after the owner changes the password).
func (h *Handler) changePasswordSubmit(w http.ResponseWriter, r *http.Request) {
	u, ok := h.requireUser(w, r)
	if !ok {
		return
	}
	if h.limited(w, r, h.passwordLimit.Allow("user:"+u.ID)) {
		return
	}
	f, err := decodeChangePassword(r.PostForm)
	p := page{Title: "Change password", Username: u.Username, Next: f.Next, MustChange: !u.PasswordChanged}
	if errors.Is(err, errTooLong) {
		p.Error = "That password is too long."
		h.render(w, r, http.StatusRequestEntityTooLarge, "change_password", p)
		return
	}
	if err != nil {
		p.Error = err.Error()
		h.render(w, r, http.StatusBadRequest, "change_password", p)
		return
	}
	good, err := accounts.VerifyPassword(u.PasswordHash, f.Current)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if !good {
		p.Error = "Your current password is not right."
		h.render(w, r, http.StatusUnauthorized, "change_password", p)
		return
	}
	if err := h.accounts.SetPassword(r.Context(), u.ID, f.New); err != nil {
		h.internalError(w, r, err)
		return
	}
	n, err := h.sess.EndOthers(r.Context(), u.ID, sessions.Raw(r))
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.log.Info("password changed", "user", u.Username, "sessions_ended", n)
	next := "/account/?changed=1"
	if f.Next != "" {
		next = safeNext(f.Next, h.isAdmin(r.Context(), u.ID))
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}
