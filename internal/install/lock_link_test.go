package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/openparachute/parachute/internal/secfile"
)

// A link planted as <root>/.install.lock is refused, and a dangling
// link's target is not created.
func TestLockRootRefusesSymlink(t *testing.T) {
	root := t.TempDir()
	target := filepath.Join(t.TempDir(), "nologin")
	if err := os.Symlink(target, filepath.Join(root, lockName)); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockRoot(context.Background(), root, nil)
	if err == nil {
		unlock()
		t.Fatal("lockRoot locked through a symlink")
	}
	if !errors.Is(err, secfile.ErrNotRegular) {
		t.Fatalf("lockRoot = %v, want a symlink refusal", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the link's target was created: %v", err)
	}
}
