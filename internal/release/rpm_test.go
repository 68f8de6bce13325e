package release

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/testenv"
	"github.com/openparachute/parachute/internal/unit"
)

func hostRPM(t *testing.T) string {
	t.Helper()
	sharedDist(t)
	return filepath.Join(scratch, "dist", PackageFileName(FormatRPM, testStamp, hostTarget))
}

// TestRPMMetadata reads the rpm with rpm -qp: the scriptlets carry the
// same lifecycle as the deb (install → preset enable + start, upgrade →
// try-restart, erase → disable --now), it needs nothing but /bin/sh and
// provides itself.
func TestRPMMetadata(t *testing.T) {
	rpm := need(t, "rpm", "rpm")
	pkg := hostRPM(t)

	q := func(args ...string) string { return run(t, rpm, append([]string{"-qp"}, append(args, pkg)...)...) }
	if got := strings.TrimSpace(q("--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}")); got != "parachute 1.0.0 1 "+hostTarget.RPMArch() {
		t.Errorf("NEVRA = %q", got)
	}

	scripts := q("--scripts")
	sections := map[string]string{}
	var cur string
	for _, l := range strings.Split(scripts, "\n") {
		if m := regexp.MustCompile(`^(\w+) scriptlet \(using /bin/sh\):$`).FindStringSubmatch(l); m != nil {
			cur = m[1]
			continue
		}
		sections[cur] += l + "\n"
	}
	want := map[string][]string{
		"preinstall":    {"systemd-sysusers", "useradd --system"},
		"postinstall":   {`if [ "$1" -eq 1 ]`, "preset parachute-hub.service", "systemctl start parachute-hub.service", "chmod 0750 /var/lib/parachute"},
		"preuninstall":  {`if [ "$1" -eq 0 ]`, "disable --now parachute-hub.service"},
		"postuninstall": {`if [ "$1" -ge 1 ]`, "try-restart parachute-hub.service", "daemon-reload"},
	}
	for sec, frags := range want {
		for _, f := range frags {
			if !strings.Contains(sections[sec], f) {
				t.Errorf("%s scriptlet lacks %q:\n%s", sec, f, sections[sec])
			}
		}
	}

	requires := strings.Fields(q("--requires"))
	for _, r := range requires {
		if !strings.HasPrefix(r, "rpmlib(") && r != "/bin/sh" && r != "<=" && r != "=" && !regexp.MustCompile(`^[\d.-]+$`).MatchString(r) {
			t.Errorf("unexpected requirement %q (a static binary needs no libraries)", r)
		}
	}
	if got := strings.TrimSpace(q("--provides")); !strings.HasPrefix(got, "parachute = 1.0.0-1") {
		t.Errorf("provides %q", got)
	}
	if got := q("--changelog"); !strings.Contains(got, "Upstream release 1.0.0.") {
		t.Errorf("changelog %q", got)
	}
}

// TestRPMInstallRoot installs the rpm into a scratch root with rpm --root
// (--nodeps: the root has no packages; --noscripts: no shell to run them
// in) and checks the files that land, then erases it again.
func TestRPMInstallRoot(t *testing.T) {
	rpm := need(t, "rpm", "rpm")
	testenv.NeedRoot(t, "rpm --root installs files owned by root")
	pkg := hostRPM(t)
	root := t.TempDir()
	run(t, rpm, "--root", root, "--dbpath", "/var/lib/rpm", "--initdb")
	run(t, rpm, "--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts", pkg)

	var files []string
	listed := strings.Fields(run(t, rpm, "--root", root, "--dbpath", "/var/lib/rpm", "-ql", "parachute"))
	for _, p := range listed {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%s is listed but not installed: %v", p, err)
			continue
		}
		if fi.IsDir() {
			continue
		}
		files = append(files, fi.Mode().Perm().String()+" "+p)
	}
	sort.Strings(files)
	wantFiles := []string{
		"-rw-r--r-- /usr/lib/systemd/system-preset/50-parachute.preset",
		"-rw-r--r-- " + unit.PackagedSystemUnitPath,
		"-rw-r--r-- " + unit.PackagedUserUnitPath,
		"-rw-r--r-- /usr/lib/sysusers.d/parachute.conf",
		"-rw-r--r-- /usr/share/bash-completion/completions/parachute",
		"-rw-r--r-- /usr/share/fish/vendor_completions.d/parachute.fish",
		"-rw-r--r-- /usr/share/zsh/site-functions/_parachute",
		"-rwxr-xr-x " + PackagedBinary,
	}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("installed files (-want +got):\n%s", diff)
	}
	preset, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system-preset/50-parachute.preset"))
	if err != nil || !strings.Contains(string(preset), "enable "+unit.SystemdName) {
		t.Errorf("preset %q (%v) does not enable the unit", preset, err)
	}

	run(t, rpm, "--root", root, "--dbpath", "/var/lib/rpm", "-e", "--noscripts", "parachute")
	if _, err := os.Stat(filepath.Join(root, PackagedBinary)); !os.IsNotExist(err) {
		t.Errorf("erase left %s (%v)", PackagedBinary, err)
	}
}
