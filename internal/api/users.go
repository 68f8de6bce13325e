package api

// The wire shapes of /api/users, the reference hub's (api-users.ts):
// snake_case, and never a password hash.

// Error codes of /api/users, the reference's spellings (its admin UI
// matches on them).
const (
	CodeInvalidUsername            ErrorCode = "invalid_username"
	CodeInvalidPassword            ErrorCode = "invalid_password"
	CodePasswordTooLong            ErrorCode = "password_too_long"
	CodeUsernameTaken              ErrorCode = "username_taken"
	CodeAssignedVaultNotFound      ErrorCode = "assigned_vault_not_found"
	CodeFirstAdminUndeletable      ErrorCode = "first_admin_undeletable"
	CodeCannotResetFirstAdmin      ErrorCode = "cannot_reset_first_admin"
	CodeCannotEditFirstAdminVaults ErrorCode = "cannot_edit_first_admin_vaults"
)

// RevocationLagSeconds is how long modules may keep accepting a revoked
// token: they cache /.well-known/parachute-revocation.json for a minute.
// Answers that revoke a user's tokens report it so an admin is not
// surprised.
const RevocationLagSeconds = 60

// UserRow is one user as /api/users shows it.
type UserRow struct {
	ID              string `json:"id"`
	Username        string `json:"username"`
	PasswordChanged bool   `json:"password_changed"`
	// AssignedVaults is never null: [] for none (for the first admin, "every
	// vault").
	AssignedVaults []string `json:"assigned_vaults"`
	CreatedAt      string   `json:"created_at"`
}

// UsersResponse is the answer of GET /api/users, oldest user first.
type UsersResponse struct {
	Users []UserRow `json:"users"`
}

// CreateUserRequest is the body of POST /api/users. The reference accepts
// the vault list under either spelling; so do we.
type CreateUserRequest struct {
	Username            string    `json:"username"`
	Password            string    `json:"password"`
	AssignedVaults      *[]string `json:"assigned_vaults,omitempty"`
	AssignedVaultsCamel *[]string `json:"assignedVaults,omitempty"`
}

// UserResponse is the answer of POST /api/users (201).
type UserResponse struct {
	User UserRow `json:"user"`
}

// ResetPasswordRequest is the body of POST /api/users/{id}/reset-password.
type ResetPasswordRequest struct {
	NewPassword string `json:"new_password"`
}

// SetVaultsRequest is the body of PATCH /api/users/{id}/vaults; [] clears.
type SetVaultsRequest struct {
	AssignedVaults      *[]string `json:"assigned_vaults,omitempty"`
	AssignedVaultsCamel *[]string `json:"assignedVaults,omitempty"`
}

// UserChangedResponse answers reset-password, vaults and delete. User is
// absent on delete; RevocationLagSeconds is set when tokens were revoked.
type UserChangedResponse struct {
	OK                   bool     `json:"ok"`
	User                 *UserRow `json:"user,omitempty"`
	RevocationLagSeconds int      `json:"revocation_lag_seconds,omitempty"`
}

// VaultNamesResponse is the answer of GET /api/users/vaults: the vault
// names services.json mounts, sorted, that a user may be assigned.
type VaultNamesResponse struct {
	Vaults []string `json:"vaults"`
}
