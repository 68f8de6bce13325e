// Package users is the admin's /api/users: list, create, reset a
// password, assign vaults, delete (reference api-users.ts, same routes,
// bodies, status codes and error codes). The accounts themselves live in
// package accounts; this package decodes, applies the admin policy and
// answers.
//
// Authentication is the router's job: the hub mounts every handler behind
// its bearer check for parachute:host:admin, as the reference does (its
// admin UI mints such a bearer from the session; no route here accepts a
// session cookie, so no CSRF surface exists).
//
// The first admin is the oldest account (there is no role column in the
// reference's schema). It cannot be deleted, reset or have vaults
// assigned through this API: deleting it would also silently make the
// next-oldest account, a friend's, the hub's admin; the admin changes
// their own password at /account/change-password, which needs the
// current one.
package users

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/hubdb"
)

// Options configure an API. Accounts is required.
type Options struct {
	Accounts *accounts.Store
	// VaultNames lists the vaults a user may be assigned (the ones
	// services.json mounts); nil means none.
	VaultNames func() []string
	// Logger records every change (discarded if nil).
	Logger *slog.Logger
}

// API serves /api/users. Its handlers have the hub's apiHandler shape:
// they write success themselves and return failures as *api.Error (any
// other error is a 500).
type API struct {
	accounts *accounts.Store
	vaults   func() []string
	log      *slog.Logger
}

// New returns an API.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.VaultNames == nil {
		o.VaultNames = func() []string { return nil }
	}
	return &API{accounts: o.Accounts, vaults: o.VaultNames, log: o.Logger}
}

// row is u on the wire: no password hash, vaults never null.
func row(u *accounts.User) api.UserRow {
	r := api.UserRow{ID: u.ID, Username: u.Username, PasswordChanged: u.PasswordChanged,
		AssignedVaults: make([]string, 0, len(u.Vaults)), CreatedAt: hubdb.FormatTime(u.CreatedAt)}
	for _, v := range u.Vaults {
		r.AssignedVaults = append(r.AssignedVaults, v.Name)
	}
	return r
}

// List is GET /api/users: every user, oldest first.
func (a *API) List(w http.ResponseWriter, r *http.Request) error {
	us, err := a.accounts.List(r.Context())
	if err != nil {
		return err
	}
	out := api.UsersResponse{Users: make([]api.UserRow, 0, len(us))}
	for i := range us {
		out.Users = append(out.Users, row(&us[i]))
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

// Vaults is GET /api/users/vaults: the vault names an admin may assign.
func (a *API) Vaults(w http.ResponseWriter, r *http.Request) error {
	api.WriteJSON(w, http.StatusOK, api.VaultNamesResponse{Vaults: knownVaults(a.vaults())})
	return nil
}

// Create is POST /api/users: a new account whose password the admin chose
// (so the user must change it at first sign-in), with its vaults.
func (a *API) Create(w http.ResponseWriter, r *http.Request) error {
	req, vaults, aerr := parseCreate(w, r)
	if aerr != nil {
		return aerr
	}
	if err := a.checkVaultsKnown(vaults); err != nil {
		return err
	}
	u, err := a.accounts.Create(r.Context(), req.Username, req.Password,
		accounts.CreateOptions{AllowMulti: true, Vaults: vaults})
	if errors.Is(err, accounts.ErrUsernameTaken) {
		return api.Errorf(http.StatusConflict, api.CodeUsernameTaken, "username %q is already in use", req.Username)
	}
	if err != nil {
		return err
	}
	a.log.Info("user created", "id", u.ID, "username", u.Username, "vaults", vaults)
	api.WriteJSON(w, http.StatusCreated, api.UserResponse{User: row(u)})
	return nil
}

// ResetPassword is POST /api/users/{id}/reset-password: the admin sets a
// temporary password for a friend's account. The user must change it at
// the next sign-in; their tokens are revoked and their sessions end.
func (a *API) ResetPassword(w http.ResponseWriter, r *http.Request) error {
	var req api.ResetPasswordRequest
	if err := api.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := checkPasswordField("new_password", req.NewPassword); err != nil {
		return err
	}
	u, err := a.target(r)
	if err != nil {
		return err
	}
	if err := a.refuseFirstAdmin(r, u.ID, api.CodeCannotResetFirstAdmin,
		"the first admin must use /account/change-password directly — admin password reset is for friend accounts"); err != nil {
		return err
	}
	if err := accounts.ValidatePassword(req.NewPassword); err != nil {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidPassword, "%s", reason(err, accounts.ErrInvalidPassword))
	}
	if err := a.accounts.ResetPassword(r.Context(), u.ID, req.NewPassword); err != nil {
		return notFoundOr(err, u.ID)
	}
	a.log.Info("password reset by admin; the user's tokens are revoked and sessions ended", "id", u.ID, "username", u.Username)
	return a.answerChanged(w, r, u.ID, api.RevocationLagSeconds)
}

// SetVaults is PATCH /api/users/{id}/vaults: replaces the user's vault
// assignments ([] clears them) and revokes the tokens the user minted for
// a vault taken away (accounts.Store.SetVaults).
func (a *API) SetVaults(w http.ResponseWriter, r *http.Request) error {
	var req api.SetVaultsRequest
	if err := api.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	vaults, aerr := vaultList(req.AssignedVaults, req.AssignedVaultsCamel, true)
	if aerr != nil {
		return aerr
	}
	u, err := a.target(r)
	if err != nil {
		return err
	}
	if err := a.refuseFirstAdmin(r, u.ID, api.CodeCannotEditFirstAdminVaults,
		"the first admin's vault membership is unrestricted by design — no vault list to edit"); err != nil {
		return err
	}
	if err := a.checkVaultsKnown(vaults); err != nil {
		return err
	}
	if err := a.accounts.SetVaults(r.Context(), u.ID, vaults); err != nil {
		return notFoundOr(err, u.ID)
	}
	a.log.Info("user vaults updated", "id", u.ID, "username", u.Username, "vaults", vaults)
	return a.answerChanged(w, r, u.ID, 0)
}

// Delete is DELETE /api/users/{id}: the account goes with its sessions,
// grants and codes; its tokens are revoked and kept for the audit trail
// (accounts.Store.Delete). A concurrent delete that got there first is a
// bodyless 204, as in the reference.
func (a *API) Delete(w http.ResponseWriter, r *http.Request) error {
	u, err := a.target(r)
	if err != nil {
		return err
	}
	if err := a.refuseFirstAdmin(r, u.ID, api.CodeFirstAdminUndeletable,
		"the first-created admin cannot be deleted (would self-lock the hub)"); err != nil {
		return err
	}
	err = a.accounts.Delete(r.Context(), u.ID)
	if errors.Is(err, accounts.ErrUserNotFound) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err != nil {
		return err
	}
	a.log.Info("user deleted; their tokens are revoked", "id", u.ID, "username", u.Username)
	api.WriteJSON(w, http.StatusOK, api.UserChangedResponse{OK: true, RevocationLagSeconds: api.RevocationLagSeconds})
	return nil
}

// target loads the user the {id} path value names, or a 404.
func (a *API) target(r *http.Request) (*accounts.User, error) {
	id := r.PathValue("id")
	u, err := a.accounts.ByID(r.Context(), id)
	if err != nil {
		return nil, notFoundOr(err, id)
	}
	return u, nil
}

// refuseFirstAdmin answers 403 code when id is the first admin.
func (a *API) refuseFirstAdmin(r *http.Request, id string, code api.ErrorCode, msg string) error {
	first, err := a.accounts.IsAdmin(r.Context(), id)
	if err != nil {
		return err
	}
	if first {
		return api.Errorf(http.StatusForbidden, code, "%s", msg)
	}
	return nil
}

// answerChanged re-reads user id and answers 200 {ok, user[, lag]}.
func (a *API) answerChanged(w http.ResponseWriter, r *http.Request, id string, lag int) error {
	u, err := a.accounts.ByID(r.Context(), id)
	if err != nil {
		return notFoundOr(err, id)
	}
	ur := row(u)
	api.WriteJSON(w, http.StatusOK, api.UserChangedResponse{OK: true, User: &ur, RevocationLagSeconds: lag})
	return nil
}

// notFoundOr maps accounts.ErrUserNotFound to the API's 404.
func notFoundOr(err error, id string) error {
	if errors.Is(err, accounts.ErrUserNotFound) {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "no user with id %q; list them with GET /api/users", id)
	}
	return err
}
