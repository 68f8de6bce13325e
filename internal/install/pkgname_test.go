package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckPackageName(t *testing.T) {
	tests := []struct {
		name    string
		pkg     string
		wantErr string // "" means valid
	}{
		{name: "plain", pkg: "parachute-weather"},
		{name: "scoped", pkg: "@openparachute/vault"},
		{name: "dots and underscores inside", pkg: "a.b_c-d"},
		{name: "digits", pkg: "123"},
		{name: "scope with tilde", pkg: "@~x/y"},
		{name: "dotted scope stays one path element", pkg: "@../x"},
		{name: "214 characters", pkg: strings.Repeat("a", 214)},

		{name: "empty", pkg: "", wantErr: "empty"},
		{name: "parent", pkg: "..", wantErr: `starts with "."`},
		{name: "traversal", pkg: "../../../../srv/data/victim", wantErr: `starts with "."`},
		{name: "traversal after a name", pkg: "x/../../victim", wantErr: "URL-safe"},
		{name: "scoped traversal", pkg: "@x/../../victim", wantErr: "URL-safe"},
		{name: "scoped dot name", pkg: "@x/..", wantErr: `after the scope starts with "."`},
		{name: "scoped hidden", pkg: "@x/.victim", wantErr: `after the scope starts with "."`},
		{name: "absolute", pkg: "/srv/data/victim", wantErr: "URL-safe"},
		{name: "two slashes in scope", pkg: "@a/b/c", wantErr: "URL-safe"},
		{name: "empty scope", pkg: "@/x", wantErr: "URL-safe"},
		{name: "scope only", pkg: "@x/", wantErr: "URL-safe"},
		{name: "unscoped slash", pkg: "a/b", wantErr: "URL-safe"},
		{name: "backslash", pkg: `..\victim`, wantErr: `starts with "."`},
		{name: "leading dot", pkg: ".hidden", wantErr: `starts with "."`},
		{name: "leading underscore", pkg: "_private", wantErr: `starts with "_"`},
		{name: "space inside", pkg: "a b", wantErr: "URL-safe"},
		{name: "leading space", pkg: " ab", wantErr: "leading or trailing spaces"},
		{name: "node_modules", pkg: "node_modules", wantErr: `"node_modules" is reserved`},
		{name: "favicon", pkg: "FAVICON.ico", wantErr: `"favicon.ico" is reserved`},
		{name: "capitals", pkg: "Vault", wantErr: "capital letters"},
		{name: "special characters", pkg: "a~b", wantErr: "~'!()*"},
		{name: "special characters after scope", pkg: "@s/a(b)", wantErr: "~'!()*"},
		{name: "215 characters", pkg: strings.Repeat("a", 215), wantErr: "longer than 214"},
		{name: "nul byte", pkg: "a\x00b", wantErr: "URL-safe"},
		{name: "non-ascii", pkg: "caf\u00e9", wantErr: "URL-safe"},
		{name: "percent", pkg: "a%2e%2e", wantErr: "URL-safe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPackageName(tc.pkg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckPackageName(%q) = %v, want nil", tc.pkg, err)
				}
				return
			}
			wantErrContains(t, err, tc.wantErr)
			if !errors.Is(err, ErrBadPackageName) {
				t.Fatalf("err = %v, want errors.Is ErrBadPackageName", err)
			}
		})
	}
}

// FuzzCheckPackageName checks the property the installer relies on: a name
// that passes is one or two plain path elements that stay inside the
// directory they are joined to.
func FuzzCheckPackageName(f *testing.F) {
	for _, s := range []string{"vault", "@openparachute/vault", "..", "../x", "@x/../y", "@../x", "a/b", "node_modules", "@a/b/c", ".", "@./x", "x\x00", "@x/y\\..\\z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if CheckPackageName(name) != nil {
			return
		}
		assertSafeName(t, name)
	})
}

func assertSafeName(t *testing.T, name string) {
	t.Helper()
	parts := strings.Split(name, "/")
	if len(parts) > 2 || (len(parts) == 2 && !strings.HasPrefix(parts[0], "@")) {
		t.Fatalf("%q passed but has %d path elements", name, len(parts))
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "\\\x00 ") {
			t.Fatalf("%q passed but has the path element %q", name, p)
		}
	}
	root := "/prefix/lib/node_modules"
	if dir := filepath.Join(root, name); !within(root, dir) || filepath.Base(filepath.Dir(backupPath(dir))) == ".." {
		t.Fatalf("%q passed but %s is not inside %s", name, dir, root)
	}
}

// FuzzReadTarball feeds arbitrary package.json and module.json contents
// through the tarball reader: it must never panic, and a package name it
// accepts must be safe as a path.
func FuzzReadTarball(f *testing.F) {
	f.Add([]byte(`{"name":"parachute-weather","version":"1.0.0"}`), []byte(`{"name":"weather","port":4100}`))
	f.Add([]byte(`{"name":"../../../../srv/data/victim","version":"1.0.0"}`), []byte(`{"name":"victim"}`))
	f.Add([]byte(`{"name":"@evil/victim"}`), []byte(`{"name":"victim","paths":["/victim"]}`))
	f.Add([]byte(`{"name":["x"]}`), []byte(`not json`))
	f.Add([]byte(`{"name":"x","version":1}`), []byte(nil))
	f.Fuzz(func(t *testing.T, pkgJSON, modJSON []byte) {
		members := []tarMember{{"package/package.json", pkgJSON}}
		if modJSON != nil {
			members = append(members, tarMember{"package/.parachute/module.json", modJSON})
		}
		pkg, _, err := readTarball(bytes.NewReader(tarGz(t, members)), "fuzz.tgz")
		if err != nil {
			return
		}
		if pkg.Name == "" {
			t.Fatalf("accepted a package without a name")
		}
		assertSafeName(t, pkg.Name)
	})
}

// tarMember is one regular file of a test tarball.
type tarMember struct {
	name string
	data []byte
}

// tarGz builds a gzipped tar of regular files in memory.
func tarGz(t testing.TB, members []tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
