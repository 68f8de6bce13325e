package release

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/goreleaser/nfpm/v2"
)

// TestDistLayout checks what a build writes and that SHA256SUMS verifies
// with sha256sum -c.
func TestDistLayout(t *testing.T) {
	res := sharedDist(t)
	dist := filepath.Join(scratch, "dist")
	var got []string
	for name := range res.Checksums {
		got = append(got, name)
	}
	sort.Strings(got)
	a := hostTarget.Arch
	want := []string{
		"oci/index.json",
		"oci/oci-layout",
		"parachute-1.0.0." + hostTarget.RPMArch() + ".rpm",
		"parachute_1.0.0_" + a + ".deb",
		"parachute_1.0.0_linux_" + a + ".tar.gz",
		"parachute_linux_" + a + "/parachute",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SHA256SUMS lists (-want +got):\n%s", diff)
	}
	if res.Formula != "" {
		t.Errorf("a one-platform build rendered a formula: %s", res.Formula)
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--check", "--strict", ChecksumsFile)
		cmd.Dir = dist
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum --check: %v\n%s", err, out)
		}
	}

	// The binary is static and stamped.
	bin := res.Binaries[hostTarget]
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s version --json: %v", bin, err)
	}
	for _, frag := range []string{`"version": "1.0.0"`, `"commit": "` + testStamp.Commit + `"`, `"date": "2026-11-26T12:00:00Z"`} {
		if !bytes.Contains(out, []byte(frag)) {
			t.Errorf("version --json lacks %s:\n%s", frag, out)
		}
	}
	if file, err := exec.LookPath("file"); err == nil {
		if desc := run(t, file, bin); !strings.Contains(desc, "statically linked") {
			t.Errorf("the binary is not static: %s", desc)
		}
	}
}

// TestReproducible builds the release twice from one snapshot of the
// source into two directories and compares every artifact byte for byte:
// the binary, the deb, the rpm, the tarball and the whole OCI layout
// (index, manifests, configs, layers). The snapshot keeps edits made to the
// working tree during the test out of the comparison.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not building the release")
	}
	src := snapshotTree(t)
	build := func() (*Result, string) {
		out := t.TempDir()
		res, err := Build(context.Background(), Options{
			Root: src, Out: out, Stamp: testStamp, Targets: []Target{hostTarget},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res, out
	}
	first, dist1 := build()
	second, dist2 := build()
	files := func(dir string) map[string]string {
		sums := map[string]string{}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			sums[filepath.ToSlash(rel)], err = fileSHA256(p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return sums
	}
	a, b := files(dist1), files(dist2)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two builds of one commit differ (-first +second):\n%s", diff)
	}
	var blobs int
	for name := range a {
		if strings.HasPrefix(name, "oci/blobs/") {
			blobs++
		}
	}
	// index + manifest + config + two layers at least.
	if blobs < 5 || first.ImageDigest != second.ImageDigest {
		t.Errorf("OCI layout: %d blobs, digests %s and %s", blobs, first.ImageDigest, second.ImageDigest)
	}
}

// snapshotTree copies the source files of the repository (tracked and
// untracked, not ignored: what a build reads) into a temporary directory.
func snapshotTree(t *testing.T) string {
	t.Helper()
	git := need(t, "git", "git")
	root := repoRoot(t)
	cmd := exec.Command(git, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("listing the source: %v", err)
	}
	dst := t.TempDir()
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		fi, err := os.Lstat(filepath.Join(root, name))
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFile(filepath.Join(dst, name), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestCheckedInUnits: goreleaser packages the unit files checked in under
// packaging/systemd; they must be what the unit model renders, which is
// what the Go builder packages.
func TestCheckedInUnits(t *testing.T) {
	if err := CheckUnits(repoRoot(t)); err != nil {
		t.Error(err)
	}
}

// TestMaintainerScripts parses every maintainer script with sh -n (and
// dash, Debian's /bin/sh, when present), and keeps the account the rpm
// %pre creates equal to the sysusers.d file.
func TestMaintainerScripts(t *testing.T) {
	root := repoRoot(t)
	var scripts []string
	for _, s := range []nfpm.Scripts{debScripts, rpmScripts} {
		for _, p := range []string{s.PreInstall, s.PostInstall, s.PreRemove, s.PostRemove} {
			if p != "" {
				scripts = append(scripts, p)
			}
		}
	}
	shells := []string{"sh"}
	if _, err := exec.LookPath("dash"); err == nil {
		shells = append(shells, "dash")
	}
	for _, s := range scripts {
		for _, sh := range shells {
			t.Run(s+"/"+sh, func(t *testing.T) {
				run(t, sh, "-n", filepath.Join(root, s))
			})
		}
	}

	conf, err := os.ReadFile(filepath.Join(root, "packaging", "sysusers.d", "parachute.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(conf), "\n") {
		if strings.HasPrefix(l, "u ") {
			line = l
		}
	}
	pre, err := os.ReadFile(filepath.Join(root, rpmScripts.PreInstall))
	if err != nil {
		t.Fatal(err)
	}
	if line == "" || !strings.Contains(string(pre), "'"+line+"'") {
		t.Errorf("the rpm %%pre does not create the sysusers.d account %q", line)
	}
}

// TestResetDirRefusesTheRepository: Build empties its output directory, so
// it must never accept the repository or a directory above it.
func TestResetDirRefusesTheRepository(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name, out string
		ok        bool
	}{
		{"a dist directory", filepath.Join(root, "dist"), true},
		{"a directory elsewhere", t.TempDir(), true},
		{"a sibling named like the root", root + "-dist", true},
		{"the root", root, false},
		{"the root's parent", filepath.Dir(root), false},
		{"nothing", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := resetDir(root, tt.out)
			if (err == nil) != tt.ok {
				t.Errorf("resetDir(%q) = %v, want ok=%v", tt.out, err, tt.ok)
			}
		})
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("the root is gone: %v", err)
	}
}
