package install

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckInside(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "prefix", "lib", "node_modules")
	outside := filepath.Join(base, "srv")
	for _, d := range []string{root, filepath.Join(root, "@ok"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, link string) {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	symlink(outside, filepath.Join(root, "@evil"))                         // a scope that leads out
	symlink(filepath.Join(base, "missing"), filepath.Join(root, "@ghost")) // a scope that leads nowhere
	symlink(outside, filepath.Join(root, "linked"))                        // npm link: the package itself is a link
	symlink(filepath.Join(base, "prefix"), filepath.Join(base, "alias"))   // a symlinked prefix

	tests := []struct {
		name, root, path string
		wantErr          string // "" means inside
	}{
		{name: "package", root: root, path: filepath.Join(root, "vault")},
		{name: "scoped package", root: root, path: filepath.Join(root, "@ok", "vault")},
		{name: "new scope", root: root, path: filepath.Join(root, "@new", "vault")},
		{name: "backup of scoped package", root: root, path: backupPath(filepath.Join(root, "@ok", "vault"))},
		{name: "package that is a symlink", root: root, path: filepath.Join(root, "linked")},
		{name: "through a symlinked prefix", root: filepath.Join(base, "alias", "lib", "node_modules"), path: filepath.Join(base, "alias", "lib", "node_modules", "vault")},
		{name: "root itself", root: root, path: root, wantErr: "not inside"},
		{name: "traversal", root: root, path: root + "/../../../srv/victim", wantErr: "not inside"},
		{name: "sibling prefix", root: root, path: root + "2/x", wantErr: "not inside"},
		{name: "relative", root: root, path: "vault", wantErr: "not an absolute path"},
		{name: "symlinked scope", root: root, path: filepath.Join(root, "@evil", "victim"), wantErr: "through a symlink"},
		{name: "backup under a symlinked scope", root: root, path: backupPath(filepath.Join(root, "@evil", "victim")), wantErr: "through a symlink"},
		{name: "dangling scope", root: root, path: filepath.Join(root, "@ghost", "victim"), wantErr: "dangling symlink"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkInside(tc.root, tc.path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("checkInside(%s, %s) = %v, want nil", tc.root, tc.path, err)
				}
				return
			}
			wantErrContains(t, err, tc.wantErr)
			if tc.wantErr != "dangling symlink" && !errors.Is(err, ErrOutsidePrefix) {
				t.Fatalf("err = %v, want errors.Is ErrOutsidePrefix", err)
			}
		})
	}
}
