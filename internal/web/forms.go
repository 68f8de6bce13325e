package web

import (
	"errors"
	"net/url"
	"strings"

	"github.com/openparachute/parachute/internal/accounts"
)

// Every form decoder takes r.PostForm (already parsed and capped by the
// CSRF middleware) and returns a typed struct or a message to show the
// user. This file is the one place their rules live.

// maxUsernameBytes caps the username field; real names are ≤ 32.
const maxUsernameBytes = 64

// maxCodeBytes caps a TOTP or backup code field.
const maxCodeBytes = 64

// errTooLong marks a password over accounts.MaxPasswordBytes; the handlers
// answer it with 413 before any hashing.
var errTooLong = errors.New("password too long")

// loginForm is POST /login.
type loginForm struct {
	Username string
	Password string
	Next     string
}

func decodeLogin(v url.Values) (loginForm, error) {
	f := loginForm{
		Username: strings.ToLower(strings.TrimSpace(v.Get("username"))),
		Password: v.Get("password"),
		Next:     v.Get("next"),
	}
	if len(f.Password) > accounts.MaxPasswordBytes {
		return f, errTooLong
	}
	if f.Username == "" || f.Password == "" || len(f.Username) > maxUsernameBytes {
		return f, formErr("Enter your username and password.")
	}
	return f, nil
}

// codeForm is POST /login/2fa: a 6-digit TOTP code or a backup code.
type codeForm struct {
	Code string
}

func decodeCode(v url.Values) (codeForm, error) {
	f := codeForm{Code: strings.TrimSpace(v.Get("code"))}
	if f.Code == "" || len(f.Code) > maxCodeBytes {
		return f, formErr("Enter the 6-digit code from your app, or a backup code.")
	}
	return f, nil
}

// changePasswordForm is POST /account/change-password.
type changePasswordForm struct {
	Current string
	New     string
	Next    string
}

func decodeChangePassword(v url.Values) (changePasswordForm, error) {
	f := changePasswordForm{Current: v.Get("current_password"), New: v.Get("new_password"), Next: v.Get("next")}
	confirm := v.Get("confirm_password")
	if len(f.Current) > accounts.MaxPasswordBytes || len(f.New) > accounts.MaxPasswordBytes ||
		len(confirm) > accounts.MaxPasswordBytes {
		return f, errTooLong
	}
	if f.Current == "" {
		return f, formErr("Enter your current password.")
	}
	if f.New != confirm {
		return f, formErr("The new passwords do not match.")
	}
	if err := accounts.ValidatePassword(f.New); err != nil {
		return f, formErr("The new password must be 12 to 256 characters long.")
	}
	if f.New == f.Current {
		return f, formErr("Choose a new password different from the current one.")
	}
	return f, nil
}

// The actions of POST /account/2fa.
const (
	actionStart   = "start"
	actionConfirm = "confirm"
	actionDisable = "disable"
)

// twoFactorForm is POST /account/2fa.
type twoFactorForm struct {
	Action   string
	Secret   string // confirm: the secret shown at start, round-tripped
	Code     string // confirm
	Password string // disable
}

func decodeTwoFactor(v url.Values) (twoFactorForm, error) {
	f := twoFactorForm{Action: v.Get("action"), Secret: strings.TrimSpace(v.Get("secret")),
		Code: strings.TrimSpace(v.Get("code")), Password: v.Get("password")}
	switch f.Action {
	case actionStart:
	case actionConfirm:
		if f.Secret == "" || len(f.Secret) > 128 || f.Code == "" || len(f.Code) > maxCodeBytes {
			return f, formErr("Enter the 6-digit code your app shows.")
		}
	case actionDisable:
		if len(f.Password) > accounts.MaxPasswordBytes {
			return f, errTooLong
		}
		if f.Password == "" {
			return f, formErr("Enter your password to turn 2FA off.")
		}
	default:
		return f, formErr("Unknown action; reload the page.")
	}
	return f, nil
}

// formErr is a message for the person at the form, shown verbatim on the
// page (hence capitalised and punctuated, unlike Go error strings).
type formErr string

func (e formErr) Error() string { return string(e) }

// setupForm is POST /admin/setup/account (reference field names).
type setupForm struct {
	Token    string // bootstrap_token
	Username string
	Password string
}

// decodeSetup reads the account step. The token is only trimmed here:
// Bootstrap.Check judges it. Username rules are package accounts'; the
// name is lower-cased like at /login, so "Owner" becomes "owner".
func decodeSetup(v url.Values) (setupForm, error) {
	f := setupForm{
		Token:    strings.TrimSpace(v.Get("bootstrap_token")),
		Username: strings.ToLower(strings.TrimSpace(v.Get("username"))),
		Password: v.Get("password"),
	}
	if len(f.Username) > maxUsernameBytes {
		f.Username = "" // not worth echoing back
		return f, formErr("Choose a username of at most 32 characters.")
	}
	confirm := v.Get("password_confirm")
	if len(f.Password) > accounts.MaxPasswordBytes || len(confirm) > accounts.MaxPasswordBytes {
		return f, errTooLong
	}
	if err := accounts.ValidateUsername(f.Username); err != nil {
		return f, formErr(fieldMessage(err))
	}
	if err := accounts.ValidatePassword(f.Password); err != nil {
		return f, formErr(fieldMessage(err))
	}
	if f.Password != confirm {
		return f, formErr("The passwords do not match.")
	}
	return f, nil
}
