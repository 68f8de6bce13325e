package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/twofactor"
)

// accountPage is GET /account/: who is signed in, 2FA state, links.
func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request) {
	u, ok := h.requireUser(w, r)
	if !ok {
		return
	}
	p := accountView(u)
	if r.URL.Query().Get("changed") == "1" {
		p.Notice = "Password changed. Your other sessions were signed out."
	}
	h.render(w, r, http.StatusOK, "account", p)
}

// requireUser returns the signed-in user, or sends the browser to /login
// with next set to this page and reports false.
func (h *Handler) requireUser(w http.ResponseWriter, r *http.Request) (*accounts.User, bool) {
	uid, ok := h.sess.Current(r)
	if ok {
		u, err := h.accounts.ByID(r.Context(), uid)
		if err == nil {
			return u, true
		}
		if !errors.Is(err, accounts.ErrUserNotFound) {
			h.internalError(w, r, err)
			return nil, false
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.render(w, r, http.StatusUnauthorized, "error", page{Title: "Signed out",
			Error: "You are signed out. Sign in again and retry."})
		return nil, false
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return nil, false
}

// backupLeft counts a user's remaining backup codes (0 on any error).
func backupLeft(stored string) int {
	n, err := twofactor.CountBackupCodes(stored)
	if err != nil {
		return 0
	}
	return n
}
