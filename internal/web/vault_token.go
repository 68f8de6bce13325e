package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/auth"
)

// TokenMinter mints the tokens of POST /account/vault-token/<name>
// (*auth.Store in the hub).
type TokenMinter interface {
	MintToken(ctx context.Context, req auth.MintRequest) (string, *auth.Claims, error)
}

// accountTokenClientID is the client_id of tokens minted from the account
// page, the reference's, so the registry tells them from CLI mints.
const accountTokenClientID = "parachute-account"

// maxVaultNameLen caps the vault name taken from the path.
const maxVaultNameLen = 64

// vaultTokenSubmit is POST /account/vault-token/{name} (after the CSRF
// middleware): a signed-in user mints a token for one of their vaults,
// for a verb their user_vaults role allows, shown once on the account
// page (reference account-vault-token.ts). The token is the authority the
// user already has through OAuth, in a form a script can use: scope
// vault:<name>:<verb>, audience vault.<name>, pinned to that vault,
// anchored to the user so a password reset, deleting the user, or taking
// the vault (or that access level) away from them revokes
// it. The first admin has no user_vaults rows and is refused here, as in
// the reference: admins mint through `parachute auth mint-token`. Unlike
// the reference, a user still on an admin-set password is refused too.
func (h *Handler) vaultTokenSubmit(w http.ResponseWriter, r *http.Request) {
	u, ok := h.requireUser(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	fail := func(status int, msg string) {
		p := accountView(u)
		p.Error = msg
		h.render(w, r, status, "account", p)
	}
	// Why: whoever handed the user an admin-set password knows it, and a
	// token minted with it would outlive the user's own password change
	// (which ends sessions, not tokens). The reference does not check.
	if !u.PasswordChanged {
		fail(http.StatusForbidden, "Choose your own password first (Change password), then mint tokens.")
		return
	}
	if !validVaultName(name) {
		fail(http.StatusBadRequest, "That is not a valid vault name.")
		return
	}
	verb := r.PostForm.Get("verb")
	if !slices.Contains([]string{"read", "write", "admin"}, verb) {
		fail(http.StatusBadRequest, "Pick an access level (read, write, or admin).")
		return
	}
	if h.tokens == nil || h.issuer == nil {
		h.internalError(w, r, fmt.Errorf("minting vault tokens is not configured"))
		return
	}
	verbs, assigned, err := h.accounts.VaultVerbsFor(r.Context(), u.ID, name)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if !assigned {
		fail(http.StatusForbidden, fmt.Sprintf("You're not assigned to a vault named %q, so you can't mint a token for it. "+
			"Ask the hub operator if you think this is wrong.", name))
		return
	}
	if !slices.Contains(verbs, verb) {
		fail(http.StatusForbidden, fmt.Sprintf("Your access to %q doesn't allow minting a %s token.", name, verb))
		return
	}
	// Per user, after the form and authority checks (a junk post does
	// not use up the user's attempts), before the mint.
	if d := h.tokenLimit.Allow("user:" + u.ID); !d.Allowed {
		w.Header().Set("Retry-After", d.RetryAfterSeconds())
		fail(http.StatusTooManyRequests, "Too many token requests. Wait "+d.RetryAfterSeconds()+" seconds and try again.")
		return
	}
	scope := "vault:" + name + ":" + verb
	tok, c, err := h.tokens.MintToken(r.Context(), auth.MintRequest{Issuer: h.issuer(), Subject: u.ID,
		Scopes: []string{scope}, VaultScope: []string{name}, UserID: u.ID, ClientID: accountTokenClientID})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.log.Info("vault token minted from the account page", "user", u.Username, "scope", scope, "jti", c.JTI)
	p := accountView(u)
	p.Minted = &mintedToken{Vault: name, Verb: verb, Token: tok,
		Days: int(time.Until(c.Expiry()).Round(24*time.Hour) / (24 * time.Hour))}
	h.render(w, r, http.StatusOK, "account", p)
}

// mintedToken is the token shown once on the account page.
type mintedToken struct {
	Vault, Verb, Token string
	Days               int
}

// vaultView is one of the user's vaults on the account page, with the
// verbs it may mint.
type vaultView struct {
	Name  string
	Verbs []string
}

// accountView is the account page's data for u.
func accountView(u *accounts.User) page {
	p := page{Title: "Your account", Username: u.Username, TOTPEnrolled: u.TOTPEnrolled}
	for _, v := range u.Vaults {
		if verbs := accounts.VaultVerbs(v.Role); len(verbs) > 0 {
			p.Vaults = append(p.Vaults, vaultView{Name: v.Name, Verbs: verbs})
		}
	}
	return p
}

// validVaultName accepts what services.json may name a vault: letters,
// digits, '-' and '_'.
func validVaultName(s string) bool {
	if s == "" || len(s) > maxVaultNameLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
