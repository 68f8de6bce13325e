package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVaultInstances(t *testing.T) {
	rows := []Service{
		{Name: "parachute-scribe", Paths: []string{"/scribe"}},
		{Name: "parachute-vault", Paths: []string{"/vault/default", "/vault/work", "/vault/work/"}},
		{Name: "parachute-vault-old"},
		{Name: "parachute-vault-x", Paths: []string{"/x"}},
	}
	var got [][2]string
	for _, v := range VaultInstances(rows) {
		got = append(got, [2]string{v.Name, v.Path})
	}
	want := [][2]string{{"default", "/vault/default"}, {"work", "/vault/work"}, {"old", "/"}, {"x", "/x"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("instances (-want +got):\n%s", d)
	}
}

func TestCheckVaultName(t *testing.T) {
	for name, ok := range map[string]bool{
		"default": true, "Work_2": true, "a-b": true, "x": true,
		"": false, "a.b": false, "../x": false, "a/b": false, "list": false, "new": false, "assets": false,
		"-x": false, "--json": false, "x-": true,
		"a b": false, "é": false, string(make([]byte, 65)): false,
	} {
		if got := CheckVaultName(name) == ""; got != ok {
			t.Errorf("CheckVaultName(%q) ok = %v, want %v (%s)", name, got, ok, CheckVaultName(name))
		}
	}
}
