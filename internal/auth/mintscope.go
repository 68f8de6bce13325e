package auth

import (
	"slices"
	"strings"
)

// Minting authorities a bearer may hold (reference/server.md §3e).
const (
	// ScopeHostAuth lets a bearer mint any requestable scope.
	ScopeHostAuth = "parachute:host:auth"
	// ScopeHostAdmin lets a bearer mint vault:<name>:admin.
	ScopeHostAdmin = "parachute:host:admin"
)

// hostScopePrefix marks the non-requestable host scopes: only the
// operator token file carries them, nothing mints them.
const hostScopePrefix = "parachute:host:"

// vaultVerbs are the verbs of vault:<verb> and vault:<name>:<verb>.
var vaultVerbs = []string{"read", "write", "admin"}

// Requestable reports whether scope may appear in a minted or OAuth-issued
// token at all: every parachute:host:* scope is excluded.
func Requestable(scope string) bool { return !strings.HasPrefix(scope, hostScopePrefix) }

// VaultScopeName returns <name> for a well-formed vault:<name>:<verb>.
func VaultScopeName(scope string) (string, bool) {
	parts := strings.Split(scope, ":")
	if len(parts) != 3 || parts[0] != "vault" || !validVaultName(parts[1]) || !slices.Contains(vaultVerbs, parts[2]) {
		return "", false
	}
	return parts[1], true
}

// WellFormedScope reports whether scope is a plausible scope: any
// non-empty scope outside the vault namespace, or exactly vault:<verb> or
// vault:<name>:<verb> with a lowercase verb. Why: a junk spelling such as
// vault:work:ADMIN or VAULT:work:admin grants nothing today, but minting it
// would leave a registry row a future, more lenient consumer might honour.
func WellFormedScope(scope string) bool {
	if scope == "" {
		return false
	}
	if !strings.HasPrefix(strings.ToLower(scope), "vault:") {
		return true
	}
	if _, ok := VaultScopeName(scope); ok {
		return true
	}
	verb, ok := strings.CutPrefix(scope, "vault:")
	return ok && slices.Contains(vaultVerbs, verb)
}

// validVaultName: lowercase letters, digits, '-' and '_', not empty.
func validVaultName(n string) bool {
	if n == "" {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// HasMintingAuthority reports whether a bearer holding scopes may mint
// anything: it holds parachute:host:auth, parachute:host:admin or some
// vault:<name>:admin.
func HasMintingAuthority(scopes []string) bool {
	for _, s := range scopes {
		if s == ScopeHostAuth || s == ScopeHostAdmin {
			return true
		}
		if n, ok := VaultScopeName(s); ok && s == "vault:"+n+":admin" {
			return true
		}
	}
	return false
}

// IsOperatorBearer reports whether scopes hold host authority, which alone
// may stamp a subject other than the bearer's own on a minted token.
func IsOperatorBearer(scopes []string) bool {
	return slices.Contains(scopes, ScopeHostAuth) || slices.Contains(scopes, ScopeHostAdmin)
}

// CanGrant reports whether a bearer holding bearer may mint scope. Its
// authority only ever narrows (capability attenuation):
//  1. parachute:host:auth grants any requestable scope;
//  2. parachute:host:admin grants vault:<name>:admin;
//  3. vault:<name>:admin grants vault:<name>:<verb> for the same name.
//
// No rule grants a parachute:host:* scope, and no vault admin reaches
// another vault.
func CanGrant(bearer []string, scope string) bool {
	if !Requestable(scope) || !WellFormedScope(scope) {
		return false
	}
	if slices.Contains(bearer, ScopeHostAuth) {
		return true
	}
	name, ok := VaultScopeName(scope)
	if !ok {
		return false
	}
	if scope == "vault:"+name+":admin" && slices.Contains(bearer, ScopeHostAdmin) {
		return true
	}
	return slices.Contains(bearer, "vault:"+name+":admin")
}

// VaultPins returns the vault_scope claim for a mint: the vault names of
// requested vault:<name>:<verb> scopes granted through vault-scoped
// authority (rules 2 and 3 of CanGrant), so such a token works only
// against those vaults. Scopes granted by host:auth alone stay unpinned.
func VaultPins(bearer, scopes []string) []string {
	pins := []string{}
	for _, s := range scopes {
		name, ok := VaultScopeName(s)
		if !ok || slices.Contains(pins, name) {
			continue
		}
		byVaultAdmin := slices.Contains(bearer, "vault:"+name+":admin")
		byHostAdmin := s == "vault:"+name+":admin" && slices.Contains(bearer, ScopeHostAdmin)
		if byVaultAdmin || byHostAdmin {
			pins = append(pins, name)
		}
	}
	return pins
}

// InferAudience picks a minted token's aud from its scopes: vault.<name>
// for the first vault:<name>:<verb>, else the first scope's resource (the
// part before ':'), else "hub".
func InferAudience(scopes []string) string {
	for _, s := range scopes {
		if n, ok := VaultScopeName(s); ok {
			return "vault." + n
		}
	}
	for _, s := range scopes {
		if res, _, _ := strings.Cut(s, ":"); res != "" {
			return res
		}
	}
	return HubAudience
}
