package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKnownModules(t *testing.T) {
	type summary struct {
		Short, ManifestName, Package string
		Port                         int
		Cmd                          []string
	}
	var got []summary
	for _, k := range KnownModules() {
		got = append(got, summary{k.Short, k.ManifestName, k.Package, k.Port, k.Cmd})
	}
	want := []summary{
		{"vault", "parachute-vault", "@openparachute/vault", 1940, []string{"parachute-vault", "serve"}},
		{"channel", "parachute-channel", "@openparachute/channel", 1941, []string{"parachute-channel", "daemon"}},
		{"notes", "parachute-notes", "@openparachute/notes", 1942, nil},
		{"scribe", "parachute-scribe", "@openparachute/scribe", 1943, []string{"parachute-scribe", "serve"}},
		{"runner", "parachute-runner", "@openparachute/runner", 1945, []string{"parachute-runner", "serve"}},
		{"surface", "parachute-surface", "@openparachute/surface", 1946, []string{"parachute-surface", "serve"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KnownModules (-want +got):\n%s", diff)
	}

	// Callers get copies: changing one must not change the table.
	k, _ := KnownByShort("vault")
	k.Cmd[0] = "evil"
	k.Paths[0] = "/evil"
	if k2, _ := KnownByShort("vault"); k2.Cmd[0] != "parachute-vault" || k2.Paths[0] != "/vault/default" {
		t.Errorf("KnownByShort returned the table's own slices: %+v", k2)
	}
	if _, ok := KnownByShort("hub"); ok {
		t.Error(`KnownByShort("hub") found a module; the hub is not a module`)
	}
}

func TestShortName(t *testing.T) {
	tests := []struct {
		name, want string
		vault      bool
	}{
		{"parachute-vault", "vault", true},
		{"parachute-vault-work", "vault", true}, // §8.32: vault instances are one process
		{"parachute-vaultish", "parachute-vaultish", false},
		{"parachute-notes", "notes", false},
		{"parachute-lens", "notes", false},
		{"parachute-channel", "channel", false},
		{"parachute-scribe", "scribe", false},
		{"parachute-runner", "runner", false},
		{"parachute-surface", "surface", false},
		{"scribe", "scribe", false},
		{"my-module", "my-module", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShortName(tt.name); got != tt.want {
				t.Errorf("ShortName(%q) = %q, want %q", tt.name, got, tt.want)
			}
			if got := IsVaultName(tt.name); got != tt.vault {
				t.Errorf("IsVaultName(%q) = %v, want %v", tt.name, got, tt.vault)
			}
		})
	}
}
