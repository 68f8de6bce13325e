// Package accounts holds the hub's user accounts in hub.db (the reference's
// users and user_vaults tables, schema v11): creating and finding users,
// their argon2id password hashes in PHC form, compatible with the
// reference's @node-rs/argon2 both ways, and the vaults each user may use.
//
// It never prints and never decides HTTP or CLI behaviour; callers map its
// sentinel errors to what the operator sees.
package accounts
