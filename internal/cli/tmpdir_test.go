package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEnsureTmpdir: a missing TMPDIR is created 0700 (nested, as on a
// fresh volume); an existing one keeps its mode; unset does nothing.
func TestEnsureTmpdir(t *testing.T) {
	root := t.TempDir()
	missing := filepath.Join(root, "vol", "tmp")
	if err := ensureTmpdir(missing); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created TMPDIR: %v, %v", fi, err)
	}
	existing := filepath.Join(root, "shared")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ensureTmpdir(existing); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(existing); fi.Mode().Perm() != 0o755 {
		t.Errorf("existing TMPDIR changed to %v", fi.Mode().Perm())
	}
	if err := ensureTmpdir(""); err != nil {
		t.Error(err)
	}
	file := filepath.Join(root, "file")
	os.WriteFile(file, nil, 0o600)
	if err := ensureTmpdir(filepath.Join(file, "tmp")); err == nil {
		t.Error("TMPDIR under a file: no error")
	}
}
