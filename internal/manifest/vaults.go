package manifest

import (
	"strings"

	"github.com/openparachute/parachute/internal/lazyre"
)

// VaultInstance is one vault served by the vault module: one mount of a
// vault row. Vault keeps every instance on its one "parachute-vault" row
// (paths ["/vault/default", "/vault/work"]); older hubs wrote a row per
// instance ("parachute-vault-work"). Both shapes are read.
type VaultInstance struct {
	// Name is the instance's name ("default", "work").
	Name string
	// Path is its mount ("/vault/work").
	Path string
	// Row is the services.json row serving it.
	Row Service
}

// VaultInstances lists every vault instance of the rows, in row and path
// order; a name served twice is listed once.
func VaultInstances(rows []Service) []VaultInstance {
	var out []VaultInstance
	seen := map[string]bool{}
	for _, row := range rows {
		if !IsVaultName(row.Name) {
			continue
		}
		paths := row.Paths
		if len(paths) == 0 {
			paths = []string{"/"}
		}
		for _, p := range paths {
			n := VaultInstanceName(row.Name, p)
			if seen[n] {
				continue
			}
			seen[n] = true
			out = append(out, VaultInstance{Name: n, Path: p, Row: row})
		}
	}
	return out
}

// VaultInstanceName is the name of the vault a vault row serves at path:
// the segment after "/vault/", else the row name's suffix after
// "parachute-vault-", else "default" (the reference's vaultInstanceNameFor).
func VaultInstanceName(rowName, path string) string {
	if rest, ok := strings.CutPrefix(path, "/vault/"); ok {
		if n, _, _ := strings.Cut(rest, "/"); n != "" {
			return n
		}
	}
	if n, ok := strings.CutPrefix(rowName, "parachute-vault-"); ok && n != "" {
		return n
	}
	return "default"
}

// vaultNameRE: vault's `create` rule, except a leading '-'. Why: the name
// is passed to parachute-vault as an argument (`create <name>`,
// `--vault-name <name>`), where "-x" or "--json" would read as a flag.
// Lazy: compiled at init it costs every exec 60 KB (cmd/parachute TestInitCost).
var vaultNameRE = &lazyre.Regexp{Expr: `^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,63}$`}

// reservedVaultName: these are refused as instance names: "list" by vault
// itself (`parachute-vault create`), "new" and "assets" by the hub because
// /vault/new and /vault/assets/* are routes of the admin UI.
func reservedVaultName(name string) bool {
	return name == "list" || name == "new" || name == "assets"
}

// CheckVaultName says why name cannot name a vault instance, or "" when
// it can: letters, digits, '-' and '_' (vault's `create` rule, which also
// keeps the name safe in a URL path and a file name), not starting with
// '-', at most 64 characters, and not a reserved name.
func CheckVaultName(name string) string {
	switch {
	case name == "":
		return "vault name must not be empty"
	case !vaultNameRE.Compiled().MatchString(name):
		return "vault name must be 1–64 letters, digits, hyphens or underscores, not starting with a hyphen"
	case reservedVaultName(name):
		return `"` + name + `" is a reserved vault name`
	}
	return ""
}
