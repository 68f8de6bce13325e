package install

import (
	"strings"
	"testing"
)

// FuzzParseVaultCreate: whatever `parachute-vault create --json` prints,
// the parser returns an answer with name, token and paths, or an error;
// it never panics.
func FuzzParseVaultCreate(f *testing.F) {
	for _, s := range []string{
		`{"name":"work","token":"","token_guidance":"no hub origin","paths":{"vault_dir":"/v/work","vault_db":"/v/work/vault.db","vault_config":"/v/work/vault.yaml"},"set_as_default":false}`,
		"notice: migrating\n{\"name\":\"a\",\"token\":\"t\",\"paths\":{}}\n",
		`{"name":"a","paths":{}}`,
		``, "\n\n", `null`, `[]`, `{"name":7}`, `{"name":"a","token":null,"paths":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		cj, err := parseVaultCreate(out)
		if err == nil && (cj.Name == "" || cj.Token == nil || cj.Paths == nil) {
			t.Fatalf("accepted %q as %+v", out, cj)
		}
	})
}

func TestParseVaultCreate(t *testing.T) {
	cj, err := parseVaultCreate([]byte("warning: x\n{\"name\":\"a\",\"token\":\"\",\"token_guidance\":\"g\",\"paths\":{\"vault_dir\":\"/d\"}}\n"))
	if err != nil || cj.Name != "a" || *cj.Token != "" || cj.TokenGuidance != "g" || cj.Paths.VaultDir != "/d" {
		t.Fatalf("= %+v, %v", cj, err)
	}
	if _, err := parseVaultCreate([]byte(`{"name":"a","paths":{}}`)); err == nil || !strings.Contains(err.Error(), "left out") {
		t.Errorf("missing token: %v", err)
	}
}

// TestHealthUnder: module.json's health moves under the first mount only
// when it is not under any mount.
func TestHealthUnder(t *testing.T) {
	for _, tc := range []struct {
		health string
		paths  []string
		want   string
	}{
		{"/vault/default/health", []string{"/vault/default", "/vault/w"}, "/vault/default/health"},
		{"/vault/default/health", []string{"/vault/w"}, "/vault/w/health"},
		{"/vault/w/health", []string{"/vault/default", "/vault/w"}, "/vault/w/health"},
		{"/vault/defaultx/health", []string{"/vault/default"}, "/vault/default/health"},
	} {
		if got := healthUnder(tc.health, tc.paths); got != tc.want {
			t.Errorf("healthUnder(%q, %q) = %q, want %q", tc.health, tc.paths, got, tc.want)
		}
	}
}
