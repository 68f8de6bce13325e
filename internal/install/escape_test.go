package install

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTarballNameCannotEscapePrefix installs tarballs whose package.json
// name points outside the npm prefix (issue 8 item 3). Each is refused
// before anything outside the test's temp dirs changes: the victim
// directory and a sibling ".victim.parachute-prev" (which the old code
// removed as a "stale backup") are byte-for-byte untouched.
func TestTarballNameCannotEscapePrefix(t *testing.T) {
	needNPM(t)
	ctx := context.Background()
	tests := []struct {
		name string
		// pkg returns the package name given the npm root and the victim.
		pkg     func(root, victim string) string
		wantIs  error
		symlink bool // make <root>/@evil a symlink to the victim's parent
	}{
		{name: "relative traversal", wantIs: ErrBadPackageName, pkg: func(root, victim string) string { return rel(t, root, victim) }},
		{name: "scoped traversal", wantIs: ErrBadPackageName, pkg: func(root, victim string) string {
			return "@x/" + rel(t, filepath.Join(root, "@x"), victim)
		}},
		{name: "traversal inside the scope", wantIs: ErrBadPackageName, pkg: func(root, victim string) string {
			return "@" + rel(t, root, filepath.Dir(victim)) + "/" + filepath.Base(victim)
		}},
		{name: "absolute path", wantIs: ErrBadPackageName, pkg: func(_, victim string) string { return victim }},
		{name: "node_modules", wantIs: ErrBadPackageName, pkg: func(string, string) string { return "node_modules" }},
		{name: "hidden name", wantIs: ErrBadPackageName, pkg: func(string, string) string { return ".victim" }},
		{name: "symlinked scope", wantIs: ErrOutsidePrefix, symlink: true, pkg: func(string, string) string { return "@evil/victim" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			prefix := filepath.Join(base, "prefix")
			npmRoot := filepath.Join(prefix, "lib", "node_modules")
			data := filepath.Join(base, "srv", "data")
			victim := filepath.Join(data, "victim")
			for dir, file := range map[string]string{victim: "precious.db", backupPath(victim): "keep.txt", npmRoot: ""} {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if file != "" {
					if err := os.WriteFile(filepath.Join(dir, file), []byte("do not touch "+dir), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.symlink {
				if err := os.Symlink(data, filepath.Join(npmRoot, "@evil")); err != nil {
					t.Fatal(err)
				}
			}
			in, paths := installerAt(filepath.Join(base, "root"), prefix, nil, nil, nil)
			src := writeModule(t, filepath.Join(base, "src"), fixture{pkg: tc.pkg(npmRoot, victim), version: "1.0.0", name: "victim"})
			tgz := packTarball(t, src, filepath.Join(base, "victim-1.0.0.tgz"))
			before := snapshot(t, data)

			_, err := in.Install(ctx, Request{Source: tgz, NoStart: true})
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("Install = %v, want errors.Is %v", err, tc.wantIs)
			}
			if d := cmp.Diff(before, snapshot(t, data)); d != "" {
				t.Fatalf("files outside the npm prefix changed (-before +after):\n%s", d)
			}
			if names := rowNames(t, paths); len(names) != 0 {
				t.Fatalf("rows after a refused install: %v", names)
			}
			if _, err := os.Stat(journalPath(paths.Root)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a refused install left a journal: %v", err)
			}
		})
	}
}

func rel(t testing.TB, from, to string) string {
	t.Helper()
	r, err := filepath.Rel(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(r)
}

// snapshot maps every path under dir (relative) to its type and contents.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			out[r] = "symlink " + target
			return err
		case d.IsDir():
			out[r] = "dir"
		default:
			b, err := os.ReadFile(p)
			out[r] = "file " + string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
