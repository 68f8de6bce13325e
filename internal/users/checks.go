package users

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/api"
)

// This file holds the body rules of /api/users, the reference's, in the
// order it checks them: shape first, then policy.

// parseCreate decodes and checks a POST /api/users body: its shape, then
// the username and password rules. It touches no database.
func parseCreate(w http.ResponseWriter, r *http.Request) (api.CreateUserRequest, []string, *api.Error) {
	var req api.CreateUserRequest
	if err := api.DecodeJSON(w, r, &req); err != nil {
		return req, nil, err
	}
	if req.Username == "" {
		return req, nil, invalid(`"username" must be a non-empty string`)
	}
	if err := checkPasswordField("password", req.Password); err != nil {
		return req, nil, err
	}
	vaults, aerr := vaultList(req.AssignedVaults, req.AssignedVaultsCamel, false)
	if aerr != nil {
		return req, nil, aerr
	}
	if err := accounts.ValidateUsername(req.Username); err != nil {
		return req, nil, api.Errorf(http.StatusBadRequest, api.CodeInvalidUsername, "%s", reason(err, accounts.ErrInvalidUsername))
	}
	if err := accounts.ValidatePassword(req.Password); err != nil {
		return req, nil, api.Errorf(http.StatusBadRequest, api.CodeInvalidPassword, "%s", reason(err, accounts.ErrInvalidPassword))
	}
	return req, vaults, nil
}

func invalid(msg string) *api.Error {
	return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "%s", msg)
}

// checkPasswordField refuses an empty password member, and one over
// accounts.MaxPasswordBytes with 413 before anything hashes it. Why the
// early cap: argon2id over a large body is a CPU denial of service.
func checkPasswordField(name, pw string) *api.Error {
	if pw == "" {
		return invalid(fmt.Sprintf("%q must be a non-empty string", name))
	}
	if len(pw) > accounts.MaxPasswordBytes {
		return api.Errorf(http.StatusRequestEntityTooLarge, api.CodePasswordTooLong,
			"password length must be ≤ %d bytes", accounts.MaxPasswordBytes)
	}
	return nil
}

// vaultList reads the vault list from whichever spelling the body used
// (assigned_vaults wins, as in the reference's PATCH). Absent or null is
// no vaults, unless required (PATCH says what to set, [] to clear).
// Entries must be non-empty; duplicates are dropped, order kept.
func vaultList(snake, camel *[]string, required bool) ([]string, *api.Error) {
	in := snake
	if in == nil {
		in = camel
	}
	if in == nil {
		if required {
			return nil, invalid(`"assigned_vaults" is required (array of strings; pass [] to clear)`)
		}
		return nil, nil
	}
	out := make([]string, 0, len(*in))
	for _, v := range *in {
		if v == "" {
			return nil, invalid(`"assigned_vaults" entries must be non-empty strings`)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// checkVaultsKnown refuses names services.json does not mount: a stale or
// mistyped name would grant nothing today and, silently, a vault someone
// installs under that name later.
func (a *API) checkVaultsKnown(names []string) *api.Error {
	if len(names) == 0 {
		return nil
	}
	known := a.vaults()
	var unknown []string
	for _, n := range names {
		if !slices.Contains(known, n) {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		return api.Errorf(http.StatusBadRequest, api.CodeAssignedVaultNotFound,
			"assigned vault(s) %s not registered in services.json; list them with GET /api/users/vaults", strings.Join(unknown, ", "))
	}
	return nil
}

// knownVaults is names sorted and deduplicated, never nil.
func knownVaults(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// reason is a validator's sentence without its sentinel prefix.
func reason(err, sentinel error) string {
	return strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
}
