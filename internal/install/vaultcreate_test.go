package install

import (
	"os"
	"path/filepath"
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

// TestPackageBin: the init runs the package's own bin, never a file
// outside the package (through "..", an absolute path or a symlink), and
// not one that is not executable.
func TestPackageBin(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "evil")
	if err := os.WriteFile(outside, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		bin  any
		want string // relative to the package, "" for none
	}{
		{"map", map[string]string{"parachute-vault": "cli.js"}, "cli.js"},
		{"map without the name", map[string]string{"other": "cli.js"}, ""},
		{"string for the package's name", "cli.js", "cli.js"},
		{"dot-dot", map[string]string{"parachute-vault": "../evil"}, ""},
		{"absolute", map[string]string{"parachute-vault": outside}, ""},
		{"symlink out", map[string]string{"parachute-vault": "link"}, ""},
		{"not executable", map[string]string{"parachute-vault": "plain.js"}, ""},
		{"garbage", 7, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "pkg")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(base, "evil"), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeJSONFile(t, filepath.Join(dir, "package.json"), map[string]any{"name": "@x/parachute-vault", "bin": tc.bin})
			if err := os.WriteFile(filepath.Join(dir, "cli.js"), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "plain.js"), []byte(""), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			want := ""
			if tc.want != "" {
				want, _ = filepath.EvalSymlinks(filepath.Join(dir, tc.want))
			}
			if got := packageBin(dir, "parachute-vault"); got != want {
				t.Errorf("packageBin = %q, want %q", got, want)
			}
		})
	}
}
