package web

import (
	"net/http"

	"github.com/openparachute/parachute/internal/sessions"
	"github.com/openparachute/parachute/internal/twofactor"
)

// secondFactorSubmit is POST /login/2fa (after the CSRF middleware): rate
// limit, then the pending cookie, then the code (TOTP, replay refused, or
// a single-use backup code), then a session.
func (h *Handler) secondFactorSubmit(w http.ResponseWriter, r *http.Request) {
	if h.limited(w, r, h.factorLimit.Allow(h.keyer.Key(r))) {
		return
	}
	c, err := r.Cookie(sessions.PendingCookie)
	var p sessions.Pending
	ok := err == nil
	if ok {
		p, ok = h.pending.Get(c.Value)
	}
	if !ok {
		http.SetCookie(w, h.sess.PendingCookie(r, ""))
		h.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in",
			Error: "Your sign-in expired. Enter your password again."})
		return
	}
	f, err := decodeCode(r.PostForm)
	if err != nil {
		h.render(w, r, http.StatusBadRequest, "login_2fa", page{Title: "Two-factor code", Error: err.Error()})
		return
	}
	good, err := h.checkCode(r, p.UserID, f.Code)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if !good {
		h.log.Info("second factor refused", "client", h.keyer.Key(r))
		h.render(w, r, http.StatusUnauthorized, "login_2fa", page{Title: "Two-factor code",
			Error: "That code is not valid (or was already used)."})
		return
	}
	h.pending.Remove(c.Value)
	http.SetCookie(w, h.sess.PendingCookie(r, ""))
	u, err := h.accounts.ByID(r.Context(), p.UserID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.signIn(w, r, u, p.Next)
}

// checkCode accepts a live, unused TOTP code or one of the user's backup
// codes (spent on success).
func (h *Handler) checkCode(r *http.Request, uid, code string) (bool, error) {
	secret, _, err := h.accounts.TOTP(r.Context(), uid)
	if err != nil {
		return false, err
	}
	if secret == "" {
		return false, nil
	}
	if _, ok := twofactor.NormalizeCode(code); ok { // six digits: TOTP, else a backup code
		return h.totp.Verify(secret, code)
	}
	return h.accounts.UseBackupCode(r.Context(), uid, code)
}
