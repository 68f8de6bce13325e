package oauth

import (
	"context"
	"slices"
	"strings"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/manifest"
)

// firstPartyScopes are the scopes the hub knows without any module
// (reference server.md §3e). Named vault:<name>:<verb> scopes are valid
// for any well-formed name, and modules add their own (module.json
// scopes.defines).
var firstPartyScopes = []string{
	"vault:read", "vault:write", "vault:admin",
	"scribe:transcribe", "scribe:admin",
	"channel:send",
	"hub:admin",
}

var vaultVerbs = []string{"read", "write", "admin"}

// declaredScopes is every scope the issuer will put in a token: first-party
// plus each installed module's module.json scopes.defines.
func declaredScopes(rows []manifest.Service) []string {
	out := slices.Clone(firstPartyScopes)
	for _, row := range rows {
		if row.InstallDir == "" {
			continue
		}
		m, err := manifest.LoadModule(row.InstallDir)
		if err != nil || m.Scopes == nil {
			continue // an unreadable module.json declares nothing
		}
		for _, sc := range m.Scopes.Defines {
			if auth.Requestable(sc) && !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
	}
	return out
}

// VaultNames lists the vaults services.json's rows mount (/vault/<name>),
// the names a user may be assigned.
func VaultNames(rows []manifest.Service) []string { return vaultNames(rows) }

// vaultNames lists the vaults services.json mounts (/vault/<name>).
func vaultNames(rows []manifest.Service) []string {
	var out []string
	for _, row := range rows {
		if !manifest.IsVaultName(row.Name) {
			continue
		}
		for _, p := range row.Paths {
			if n, ok := strings.CutPrefix(strings.TrimRight(p, "/"), "/vault/"); ok && n != "" && !strings.Contains(n, "/") {
				out = append(out, n)
			}
		}
	}
	return out
}

// advertised is scopes_supported: the declared scopes plus the named scope
// of every mounted vault; never a parachute:host:* scope.
func advertised(rows []manifest.Service) []string {
	out := declaredScopes(rows)
	for _, n := range vaultNames(rows) {
		for _, v := range vaultVerbs {
			out = append(out, "vault:"+n+":"+v)
		}
	}
	return out
}

// checkRequested sorts a requested scope list into the scopes the issuer
// may mint and the offending ones: non-requestable host scopes (invalid
// whatever else is asked) and scopes nobody declared.
func checkRequested(scopes, declared []string) (host, unknown []string) {
	for _, sc := range scopes {
		switch {
		case !auth.Requestable(sc):
			host = append(host, sc)
		case slices.Contains(declared, sc):
		default:
			if _, ok := auth.VaultScopeName(sc); !ok {
				unknown = append(unknown, sc)
			}
		}
	}
	return host, unknown
}

// capToUser drops the scopes userID does not hold (the reference's
// capScopesToUserAuthority). The first admin holds everything. Anyone
// else holds named vault scopes only on their assigned vaults with the
// verbs of their role; an unnamed vault:<verb> is narrowed to each of their
// vaults whose role allows it; and, fixing the reference, they never get
// hub:admin or a module's admin scope.
func capToUser(ctx context.Context, users *accounts.Store, userID string, scopes []string) ([]string, error) {
	admin, err := users.IsAdmin(ctx, userID)
	if err != nil || admin {
		return scopes, err
	}
	u, err := users.ByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	held := func(vault, verb string) bool {
		for _, v := range u.Vaults {
			if v.Name == vault && slices.Contains(accounts.VaultVerbs(v.Role), verb) {
				return true
			}
		}
		return false
	}
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, sc := range scopes {
		if name, ok := auth.VaultScopeName(sc); ok {
			if held(name, sc[strings.LastIndex(sc, ":")+1:]) {
				add(sc)
			}
			continue
		}
		if verb, ok := strings.CutPrefix(sc, "vault:"); ok && slices.Contains(vaultVerbs, verb) {
			for _, v := range u.Vaults {
				if held(v.Name, verb) {
					add("vault:" + v.Name + ":" + verb)
				}
			}
			continue
		}
		if sc == "hub:admin" || strings.HasSuffix(sc, ":admin") || strings.HasPrefix(strings.ToLower(sc), "account:") {
			continue
		}
		add(sc)
	}
	return out, nil
}

// narrowToVault applies an RFC 8707 resource naming one vault: unnamed
// vault:<verb> becomes vault:<name>:<verb>, other vaults' scopes go.
func narrowToVault(scopes []string, vault string) []string {
	var out []string
	for _, sc := range scopes {
		if n, ok := auth.VaultScopeName(sc); ok {
			if n == vault && !slices.Contains(out, sc) {
				out = append(out, sc)
			}
			continue
		}
		if verb, ok := strings.CutPrefix(sc, "vault:"); ok && slices.Contains(vaultVerbs, verb) {
			if s := "vault:" + vault + ":" + verb; !slices.Contains(out, s) {
				out = append(out, s)
			}
			continue
		}
		out = append(out, sc)
	}
	return out
}

// resourceVault resolves an RFC 8707 resource against the hub's origins:
// "" for the hub itself, the vault name for <origin>/vault/<name>[/...],
// and ok=false for anything else (invalid_target).
func resourceVault(resource string, origins []string) (string, bool) {
	res := strings.TrimRight(resource, "/")
	for _, o := range origins {
		o = strings.TrimRight(o, "/")
		if res == o || res == o+"/mcp" {
			return "", true
		}
		rest, ok := strings.CutPrefix(res, o+"/vault/")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, "/")
		if _, ok := auth.VaultScopeName("vault:" + name + ":read"); ok {
			return name, true
		}
	}
	return "", false
}

// adminScope reports whether sc is an administrative scope; such scopes
// always ask for consent.
func adminScope(sc string) bool { return strings.HasSuffix(sc, ":admin") }

// covers reports whether every scope of want is in have.
func covers(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// unnamedVault reports whether scopes hold an unnamed vault:<verb>, which
// the consent page's vault picker must name before a code is issued.
func unnamedVault(scopes []string) bool {
	return slices.ContainsFunc(scopes, func(sc string) bool {
		verb, ok := strings.CutPrefix(sc, "vault:")
		return ok && slices.Contains(vaultVerbs, verb)
	})
}

// pickVault rewrites each unnamed vault:<verb> to vault:<name>:<verb>,
// leaving every other scope as it is.
func pickVault(scopes []string, name string) []string {
	var out []string
	for _, sc := range scopes {
		if verb, ok := strings.CutPrefix(sc, "vault:"); ok && slices.Contains(vaultVerbs, verb) {
			sc = "vault:" + name + ":" + verb
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}
