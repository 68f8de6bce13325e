package web

import (
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/twofactor"
)

// twoFactorPage is GET /account/2fa: the state, with the start or the
// disable form.
func (h *Handler) twoFactorPage(w http.ResponseWriter, r *http.Request) {
	u, ok := h.requireUser(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "account_2fa", h.twoFactorState(r, u))
}

func (h *Handler) twoFactorState(r *http.Request, u *accounts.User) page {
	p := page{Title: "Two-factor sign-in", Username: u.Username, TOTPEnrolled: u.TOTPEnrolled}
	if u.TOTPEnrolled {
		if _, stored, err := h.accounts.TOTP(r.Context(), u.ID); err == nil {
			p.BackupLeft = backupLeft(stored)
		}
	}
	return p
}

// twoFactorSubmit is POST /account/2fa (after the CSRF middleware):
// action=start shows a new secret as a QR code and text; action=confirm
// checks a code from the app, stores the secret and shows ten backup codes
// once; action=disable turns 2FA off given the password.
func (h *Handler) twoFactorSubmit(w http.ResponseWriter, r *http.Request) {
	u, ok := h.requireUser(w, r)
	if !ok {
		return
	}
	f, err := decodeTwoFactor(r.PostForm)
	if err != nil {
		p := h.twoFactorState(r, u)
		p.Error = err.Error()
		h.render(w, r, http.StatusBadRequest, "account_2fa", p)
		return
	}
	switch f.Action {
	case actionStart, actionConfirm:
		if u.TOTPEnrolled {
			p := h.twoFactorState(r, u)
			p.Error = "2FA is already on. Turn it off first to enrol a new device."
			h.render(w, r, http.StatusConflict, "account_2fa", p)
			return
		}
		if f.Action == actionStart {
			h.startEnrolment(w, r, u)
		} else {
			h.confirmEnrolment(w, r, u, f)
		}
	case actionDisable:
		h.disable(w, r, u, f)
	}
}

func (h *Handler) startEnrolment(w http.ResponseWriter, r *http.Request, u *accounts.User) {
	key, err := twofactor.NewKey(u.Username, nil)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.renderEnrolment(w, r, u, key, http.StatusOK, "")
}

func (h *Handler) renderEnrolment(w http.ResponseWriter, r *http.Request, u *accounts.User, key twofactor.Key, status int, msg string) {
	svg, err := twofactor.QRSVG(key.URL)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	// A data: URL in <img> keeps the page inside the CSP (img-src data:)
	// with no inline markup from the QR library.
	qr := template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(svg)))
	h.render(w, r, status, "account_2fa", page{Title: "Two-factor sign-in", Username: u.Username,
		QR: qr, Secret: key.Secret, Error: msg})
}

func (h *Handler) confirmEnrolment(w http.ResponseWriter, r *http.Request, u *accounts.User, f twoFactorForm) {
	secret, err := twofactor.ParseSecret(f.Secret)
	if err != nil {
		p := h.twoFactorState(r, u)
		p.Error = "The enrolment form was damaged; start again."
		h.render(w, r, http.StatusBadRequest, "account_2fa", p)
		return
	}
	key, err := twofactor.KeyFor(secret, u.Username)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	good, err := h.totp.Verify(secret, f.Code)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if !good {
		h.renderEnrolment(w, r, u, key, http.StatusBadRequest, "That code does not match; check the time on your phone and try the next one.")
		return
	}
	codes, stored, err := twofactor.GenerateBackupCodes(nil, accounts.HashBackupCode)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if err := h.accounts.EnableTOTP(r.Context(), u.ID, secret, stored); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.log.Info("2FA enrolled", "user", u.Username)
	h.render(w, r, http.StatusOK, "account_2fa", page{Title: "Two-factor sign-in", Username: u.Username,
		TOTPEnrolled: true, BackupCodes: codes, BackupLeft: len(codes)})
}

func (h *Handler) disable(w http.ResponseWriter, r *http.Request, u *accounts.User, f twoFactorForm) {
	// The password attempts share the change-password budget: both guess
	// the same secret.
	if h.limited(w, r, h.passwordLimit.Allow("user:"+u.ID)) {
		return
	}
	good, err := accounts.VerifyPassword(u.PasswordHash, f.Password)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if !good {
		p := h.twoFactorState(r, u)
		p.Error = "That password is not right."
		h.render(w, r, http.StatusUnauthorized, "account_2fa", p)
		return
	}
	if err := h.accounts.DisableTOTP(r.Context(), u.ID); err != nil {
		h.internalError(w, r, err)
		return
	}
	h.log.Info("2FA disabled", "user", u.Username)
	h.render(w, r, http.StatusOK, "account_2fa", page{Title: "Two-factor sign-in", Username: u.Username,
		Notice: "Two-factor sign-in is off."})
}
