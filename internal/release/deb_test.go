package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/unit"
)

// hostDeb is the deb of the shared build.
func hostDeb(t *testing.T) string {
	t.Helper()
	sharedDist(t)
	return filepath.Join(scratch, "dist", PackageFileName(FormatDeb, testStamp, hostTarget))
}

// TestDebContents reads the deb with dpkg-deb: the files with their
// owners and modes, the control fields, the maintainer scripts, and the
// unit file, which must be the one the unit model renders.
func TestDebContents(t *testing.T) {
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	deb := hostDeb(t)

	var files []string
	for _, l := range strings.Split(strings.TrimSpace(run(t, dpkgDeb, "--contents", deb)), "\n") {
		f := strings.Fields(l)
		if strings.HasPrefix(f[0], "d") {
			continue
		}
		files = append(files, f[0]+" "+f[1]+" "+strings.TrimPrefix(f[5], "."))
	}
	sort.Strings(files)
	want := []string{
		// nfpm writes the changelog it generates with numeric ids only.
		"-rw-r--r-- 0/0 /usr/share/doc/parachute/changelog.Debian.gz",
		"-rw-r--r-- root/root /usr/lib/systemd/system/parachute-hub.service",
		"-rw-r--r-- root/root /usr/lib/systemd/user/parachute-hub.service",
		"-rw-r--r-- root/root /usr/lib/sysusers.d/parachute.conf",
		"-rw-r--r-- root/root /usr/share/bash-completion/completions/parachute",
		"-rw-r--r-- root/root /usr/share/doc/parachute/copyright",
		"-rw-r--r-- root/root /usr/share/fish/vendor_completions.d/parachute.fish",
		"-rw-r--r-- root/root /usr/share/lintian/overrides/parachute",
		"-rw-r--r-- root/root /usr/share/zsh/vendor-completions/_parachute",
		"-rwxr-xr-x root/root /usr/bin/parachute",
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("deb files (-want +got):\n%s", diff)
	}

	for field, want := range map[string]string{
		"Package": "parachute", "Version": "1.0.0-1", "Architecture": hostTarget.DebArch(),
		"Section": "net", "Priority": "optional", "Maintainer": Maintainer, "Homepage": Homepage,
	} {
		if got := strings.TrimSpace(run(t, dpkgDeb, "--field", deb, field)); got != want {
			t.Errorf("control %s = %q, want %q", field, got, want)
		}
	}

	ctrl := t.TempDir()
	run(t, dpkgDeb, "--control", deb, ctrl)
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		got, err := os.ReadFile(filepath.Join(ctrl, s))
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging", "deb", s))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(src) {
			t.Errorf("the deb's %s is not packaging/deb/%s", s, s)
		}
		if fi, _ := os.Stat(filepath.Join(ctrl, s)); fi.Mode().Perm() != 0o755 {
			t.Errorf("%s mode %v, want 0755", s, fi.Mode().Perm())
		}
	}

	data := t.TempDir()
	run(t, dpkgDeb, "--extract", deb, data)
	for path, build := range map[string]func() (unit.Service, error){
		unit.PackagedSystemUnitPath: unit.PackagedSystemService,
		unit.PackagedUserUnitPath:   unit.PackagedUserService,
	} {
		s, err := build()
		if err != nil {
			t.Fatal(err)
		}
		want, err := unit.RenderSystemd(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(data, path))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s is not the unit model's (-model +deb):\n%s", path, diff)
		}
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		// Offline check against this machine's systemd (252 on Debian 12).
		cmd := exec.Command(sa, "verify", "--man=no", filepath.Join(data, unit.PackagedSystemUnitPath))
		out, err := cmd.CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			// The binary is not installed on this host; everything else counts.
			if l != "" && !strings.Contains(l, "/usr/bin/parachute") && !strings.Contains(l, "parachute-hub.service: Command") {
				t.Errorf("systemd-analyze verify: %s (%v)", l, err)
			}
		}
	}
}

// TestDebLintian runs lintian on the deb: no errors or warnings beyond the
// overrides packaging/deb/lintian-overrides justifies.
func TestDebLintian(t *testing.T) {
	lintian := need(t, "lintian", "lintian")
	deb := hostDeb(t)
	cmd := exec.Command(lintian, "--fail-on", "error,warning", deb)
	// Tags come on stdout; stderr carries lintian's own notes (running as
	// root, say), which are not findings about the package.
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var tags []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
			tags = append(tags, l)
		}
	}
	if err != nil || len(tags) > 0 {
		t.Errorf("lintian: %v\n%s\nstderr:\n%s", err, out, stderr.String())
	}
}
