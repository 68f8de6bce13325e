package release

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
	"github.com/openparachute/parachute/internal/unit"
)

// box is one booted systemd-box: a throwaway Debian 12 root with systemd
// 252 as PID 1 of its own namespaces (../shared/tools/systemd-box).
type box struct {
	t    *testing.T
	tool string
	pid  string
}

// startBox boots a box with dir visible at /dist inside, or skips (fails in
// CI) when it cannot. The box is stopped when the test ends.
func startBox(t *testing.T, dir string) *box {
	t.Helper()
	bx := testenv.BootBox(t, dir+":/dist")
	return &box{t: t, tool: bx.Tool, pid: bx.PID}
}

// run runs a command in the box and returns its trimmed stdout; its
// stderr goes into the error only, so a warning (a locale the box lacks,
// say) never lands in a value the test compares.
func (b *box) run(args ...string) (string, error) {
	cmd := exec.Command(b.tool, append([]string{"run", b.pid}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%w\nstderr:\n%s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), err
}

// must runs a command that must succeed.
func (b *box) must(args ...string) string {
	b.t.Helper()
	out, err := b.run(args...)
	if err != nil {
		b.t.Fatalf("in the box: %s: %v\n%s\njournal:\n%s", strings.Join(args, " "), err, out, b.journal())
	}
	return out
}

func (b *box) journal() string {
	out, _ := b.run("journalctl", "--no-pager", "-n", "40", "-u", unit.SystemdName)
	return out
}

// show reads unit properties.
func (b *box) show(props ...string) map[string]string {
	b.t.Helper()
	out := b.must(append([]string{"systemctl", "show", unit.SystemdName}, prefixEach("-p", props)...)...)
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func prefixEach(flag string, vals []string) []string {
	var out []string
	for _, v := range vals {
		out = append(out, flag, v)
	}
	return out
}

// debPair builds two debs of the shared binary, 1.0.0 and 1.0.1, into a
// directory of their own (the box sees it as /dist).
func debPair(t *testing.T) string {
	t.Helper()
	res := sharedDist(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "1.0.1"} {
		s := testStamp
		s.Version = v
		req := PackageRequest{Root: repoRoot(t), Stage: t.TempDir(), Binary: res.Binaries[hostTarget],
			Target: hostTarget, Stamp: s, Format: FormatDeb}
		if err := BuildPackage(req, filepath.Join(dir, PackageFileName(FormatDeb, s, hostTarget))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDebLifecycle installs the deb into a booted systemd and walks the
// Debian lifecycle: install → enabled, active, /health answering, running
// as parachute, state dir 0750; upgrade → restarted with the state kept;
// remove → stopped and masked, account and state kept; purge → state,
// account and every enable link gone.
func TestDebLifecycle(t *testing.T) {
	dir := debPair(t)
	b := startBox(t, dir)
	// The values compared below are stdout alone: a warning must not count.
	if got := b.must("sh", "-c", "echo 'warning: setlocale: LC_ALL: cannot change locale' >&2; echo value"); got != "value" {
		t.Fatalf("box.run returned %q, want stdout alone", got)
	}
	deb := func(v string) string { return "/dist/" + PackageFileName(FormatDeb, Stamp{Version: v}, hostTarget) }
	active := func() error {
		if p := b.show("ActiveState"); p["ActiveState"] != "active" {
			return fmt.Errorf("ActiveState=%s", p["ActiveState"])
		}
		return nil
	}

	// install
	b.must("dpkg", "-i", deb("1.0.0"))
	waitFor(t, "the hub to be active", 30*time.Second, active)
	if got := b.must("systemctl", "is-enabled", unit.SystemdName); got != "enabled" {
		t.Errorf("after install: is-enabled = %q, want enabled", got)
	}
	// The user unit ships for operators who want it, but is not enabled.
	b.must("test", "-f", unit.PackagedUserUnitPath)
	if got, _ := b.run("systemctl", "--global", "is-enabled", unit.SystemdName); got != "disabled" {
		t.Errorf("after install: the user unit is %q, want disabled", got)
	}
	var health struct{ Status, Service, Version string }
	waitFor(t, "/health", 30*time.Second, func() error {
		out, err := b.run("curl", "-sf", "http://127.0.0.1:1939/health")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return json.Unmarshal([]byte(out), &health)
	})
	if health.Status != "ok" || health.Version != "1.0.0" {
		t.Errorf("/health = %+v, want ok from 1.0.0", health)
	}
	first := b.show("MainPID", "InvocationID")
	if user := b.must("ps", "-o", "user=", "-p", first["MainPID"]); user != "parachute" {
		t.Errorf("the hub runs as %q, want parachute", user)
	}
	if got := b.must("stat", "-c", "%U:%G %a", "/var/lib/parachute"); got != "parachute:parachute 750" {
		t.Errorf("/var/lib/parachute is %q, want parachute:parachute 750", got)
	}
	if got := b.must("getent", "passwd", "parachute"); !strings.HasSuffix(got, ":/var/lib/parachute:/usr/sbin/nologin") {
		t.Errorf("account: %q", got)
	}
	waitFor(t, "the operator token", 10*time.Second, func() error {
		_, err := b.run("test", "-s", "/var/lib/parachute/operator.token")
		return err
	})
	if got := b.must("stat", "-c", "%U:%G %a", "/var/lib/parachute/operator.token"); got != "parachute:parachute 640" {
		t.Errorf("operator.token is %q, want parachute:parachute 640 (group-readable in a 0750 root)", got)
	}
	token := b.must("sha256sum", "/var/lib/parachute/operator.token")

	// One hub per box: root's init adopts the package's unit, and an operator
	// in the parachute group finds the system hub (its root, its token)
	// without flags and installs no second hub.
	if out := b.must("parachute", "init"); !strings.Contains(out, "adopted") || !strings.Contains(out, "package") {
		t.Errorf("root's init on a deb box did not adopt the packaged hub:\n%s", out)
	}
	if _, err := b.run("test", "-e", "/etc/systemd/system/"+unit.SystemdName); err == nil {
		t.Error("init wrote a second unit beside the package's")
	}
	b.must("useradd", "--create-home", "--groups", "parachute", "op")
	b.must("loginctl", "enable-linger", "op")
	waitFor(t, "op's user bus", 20*time.Second, func() error { _, err := b.run("test", "-S", "/run/user/1000/bus"); return err })
	asOp := func(args ...string) (string, error) {
		return b.run(append([]string{"setpriv", "--reuid=op", "--regid=op", "--init-groups", "env", "-i", "HOME=/home/op", "USER=op",
			"XDG_RUNTIME_DIR=/run/user/1000", "PATH=/usr/bin:/bin", "parachute"}, args...)...)
	}
	if out, err := asOp("init"); err != nil || !strings.Contains(out, "system service") {
		t.Errorf("op's init on a deb box: %v\n%s", err, out)
	}
	if _, err := b.run("test", "-e", "/home/op/.config/systemd/user/"+unit.SystemdName); err == nil {
		t.Error("op's init installed a user hub beside the system one")
	}
	if out, err := asOp("status"); err != nil || !strings.Contains(out, "managed unit (systemd, package)") {
		t.Errorf("op's status does not name the package's unit: %v\n%s", err, out)
	}
	// The hub's answer is an error: it is on stderr, which run puts in err.
	if out, err := asOp("start", "nope"); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("op's module verb did not reach the system hub with its token: %v\n%s", err, out)
	}

	// upgrade
	b.must("dpkg", "-i", deb("1.0.1"))
	waitFor(t, "the hub to be active after the upgrade", 30*time.Second, active)
	second := b.show("MainPID", "InvocationID")
	if second["InvocationID"] == first["InvocationID"] || second["MainPID"] == first["MainPID"] {
		t.Errorf("upgrade did not restart the hub: before %v, after %v", first, second)
	}
	if got := b.must("sha256sum", "/var/lib/parachute/operator.token"); got != token {
		t.Error("upgrade changed the operator token")
	}
	if got := b.must("dpkg-query", "-W", "-f", "${Version}", "parachute"); got != "1.0.1-1" {
		t.Errorf("installed version %q, want 1.0.1-1", got)
	}

	// remove
	b.must("dpkg", "-r", "parachute")
	if p := b.show("ActiveState"); p["ActiveState"] != "inactive" {
		t.Errorf("after remove: ActiveState=%s, want inactive", p["ActiveState"])
	}
	if got, _ := b.run("systemctl", "is-enabled", unit.SystemdName); got != "masked" {
		t.Errorf("after remove: is-enabled = %q, want masked", got)
	}
	if _, err := b.run("curl", "-sf", "http://127.0.0.1:1939/health"); err == nil {
		t.Error("after remove: /health still answers")
	}
	b.must("getent", "passwd", "parachute")
	b.must("test", "-s", "/var/lib/parachute/operator.token")

	// purge
	b.must("dpkg", "-P", "parachute")
	for _, check := range [][]string{
		{"test", "-e", "/var/lib/parachute"},
		{"getent", "passwd", "parachute"},
		{"getent", "group", "parachute"},
		{"test", "-L", "/etc/systemd/system/" + unit.SystemdName},
		{"test", "-L", "/etc/systemd/system/multi-user.target.wants/" + unit.SystemdName},
	} {
		if out, err := b.run(check...); err == nil {
			t.Errorf("after purge: %s still holds: %s", strings.Join(check, " "), out)
		}
	}
}

// TestDebInstallWithoutSystemd installs the deb where systemd is not
// running (a chroot, an image build: no /run/systemd/system): the
// maintainer scripts must succeed, create the account and state, enable
// the unit for the next boot and start nothing.
func TestDebInstallWithoutSystemd(t *testing.T) {
	dir := debPair(t)
	b := startBox(t, dir)
	// A private /run hides /run/systemd/system from the scripts, as in a
	// chroot; systemd itself keeps running outside that mount namespace.
	pkg := "/dist/" + PackageFileName(FormatDeb, Stamp{Version: "1.0.0"}, hostTarget)
	b.must("unshare", "--mount", "sh", "-c", "mount -t tmpfs tmpfs /run && dpkg -i "+pkg)
	if got := b.must("readlink", "/etc/systemd/system/multi-user.target.wants/"+unit.SystemdName); !strings.HasSuffix(got, "/systemd/system/"+unit.SystemdName) {
		t.Errorf("enable link points at %q", got)
	}
	if p := b.show("ActiveState"); p["ActiveState"] != "inactive" {
		t.Errorf("the hub was started without systemd: ActiveState=%s", p["ActiveState"])
	}
	b.must("getent", "passwd", "parachute")
	if got := b.must("stat", "-c", "%U:%G %a", "/var/lib/parachute"); got != "parachute:parachute 750" {
		t.Errorf("/var/lib/parachute is %q", got)
	}
	b.must("unshare", "--mount", "sh", "-c", "mount -t tmpfs tmpfs /run && dpkg -P parachute")
	if _, err := b.run("getent", "passwd", "parachute"); err == nil {
		t.Error("purge without systemd left the account")
	}
}
