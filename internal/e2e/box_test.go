package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
)

// The service-manager tests run the real CLI against a real systemd 252
// booted by ../shared/tools/systemd-box. The host test binds the built
// binaries and this test binary into the box and runs the in-box scenarios
// there, one by one, with inBoxEnv set.
const (
	inBoxEnv = "PARACHUTE_E2E_IN_BOX" // "root" or "user"
	boxDir   = "/opt/parachute-e2e"
	boxBin   = boxDir + "/bin"
	boxTest  = boxDir + "/e2e.test"
)

var boxScenarios = []string{"system-unit", "failing-unit", "migrate", "user-unit"}

// TestServiceManager boots systemd in a box and runs the CLI scenarios there.
func TestServiceManager(t *testing.T) {
	if os.Getenv(inBoxEnv) != "" {
		t.Skip("already inside the box")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(self, filepath.Join(dir, "e2e.test")); err != nil {
		t.Fatal(err)
	}
	box := testenv.BootBox(t, dir+":"+boxDir, filepath.Dir(parachuteBin)+":"+boxBin)
	for _, name := range boxScenarios {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, err := box.Run(ctx, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", inBoxEnv+"=root",
				boxTest, "-test.run", "^TestInBox$/^"+name+"$", "-test.v", "-test.count=1")
			if err != nil || !bytes.Contains(out, []byte("--- PASS: TestInBox/"+name)) {
				t.Fatalf("in-box scenario %s: %v\n%s", name, err, out)
			}
			if testing.Verbose() {
				t.Logf("in-box output:\n%s", out)
			}
		})
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestInBox holds the scenarios; it only runs inside the box.
func TestInBox(t *testing.T) {
	if os.Getenv(inBoxEnv) != "root" {
		t.Skip("runs inside systemd-box, started by TestServiceManager")
	}
	t.Run("system-unit", boxSystemUnit)
	t.Run("failing-unit", boxFailingUnit)
	t.Run("migrate", boxMigrate)
	t.Run("user-unit", boxUserUnit)
}

// box is a config root inside the box plus the CLI to drive it.
type box struct {
	t    *testing.T
	root string
	env  []string
}

func newBox(t *testing.T, root string, mods ...module) *box {
	t.Helper()
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	b := &box{t: t, root: root, env: append(os.Environ(), "PARACHUTE_HOME="+root)}
	var rows []map[string]any
	for _, m := range mods {
		dir := filepath.Join(root, "modules", m.name)
		if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeJSON(t, filepath.Join(dir, ".parachute", "module.json"), map[string]any{"name": m.name, "port": m.port,
			"paths": []string{"/" + m.name}, "health": "/" + m.name + "/health", "startCmd": append([]string{testmodBin}, m.mode...)})
		rows = append(rows, map[string]any{"name": m.name, "port": m.port, "paths": []string{"/" + m.name},
			"health": "/" + m.name + "/health", "version": "1.0.0", "installDir": dir})
	}
	if rows != nil {
		writeJSON(t, filepath.Join(root, "services.json"), map[string]any{"services": rows})
	}
	return b
}

func (b *box) run(args ...string) (string, int) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, parachuteBin, args...)
	cmd.Env = b.env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.t.Fatalf("parachute %v: %v", args, err)
	}
	return string(out), code
}

func (b *box) must(args ...string) string {
	b.t.Helper()
	out, code := b.run(args...)
	if code != 0 {
		b.t.Fatalf("parachute %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func systemctl(t *testing.T, args ...string) string {
	t.Helper()
	out, _ := exec.Command("systemctl", args...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

func mainPID(t *testing.T, scope ...string) int {
	t.Helper()
	args := append(append([]string{}, scope...), "show", "-p", "MainPID", "--value", "parachute-hub.service")
	pid, _ := strconv.Atoi(systemctl(t, args...))
	return pid
}

func healthy(port int) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func boxSystemUnit(t *testing.T) {
	b := newBox(t, "/var/lib/ptest", module{name: "web", mode: []string{"serve"}, port: 2001})
	out := b.must("init")
	if !strings.Contains(out, "Installed") || !strings.Contains(out, "answering") {
		t.Fatalf("init output:\n%s", out)
	}
	if got := systemctl(t, "is-enabled", "parachute-hub.service"); got != "enabled" {
		t.Fatalf("is-enabled = %q", got)
	}
	if got := systemctl(t, "is-active", "parachute-hub.service"); got != "active" {
		t.Fatalf("is-active = %q", got)
	}
	if !healthy(1939) {
		t.Fatal("/health does not answer on 127.0.0.1:1939")
	}
	// Idempotent.
	if out := b.must("init"); !strings.Contains(out, "nothing to change") {
		t.Fatalf("second init changed something:\n%s", out)
	}
	waitFor(t, "module web active under the unit", 15*time.Second, func() bool {
		out, _ := b.run("status")
		return strings.Contains(out, "managed unit (systemd)") && rowState(out, "web") == "active"
	})

	// restart → new MainPID.
	pid1 := mainPID(t)
	if out := b.must("restart"); !strings.Contains(out, "hub restarted") {
		t.Fatalf("restart:\n%s", out)
	}
	pid2 := mainPID(t)
	if pid2 == 0 || pid2 == pid1 {
		t.Fatalf("MainPID %d → %d after restart", pid1, pid2)
	}

	// systemd restarts a killed hub, and the modules come back.
	systemctl(t, "kill", "-s", "KILL", "parachute-hub.service")
	waitFor(t, "systemd to restart the killed hub", 30*time.Second, func() bool {
		p := mainPID(t)
		return p != 0 && p != pid2 && healthy(1939)
	})
	waitFor(t, "web back after the hub was killed", 20*time.Second, func() bool {
		out, _ := b.run("status")
		return rowState(out, "web") == "active"
	})

	// stop / start through the manager.
	if out := b.must("stop"); !strings.Contains(out, "hub stopped") {
		t.Fatalf("stop:\n%s", out)
	}
	if got := systemctl(t, "is-active", "parachute-hub.service"); got != "inactive" {
		t.Fatalf("after stop is-active = %q", got)
	}
	out, code := b.run("status")
	if code != 0 || rowState(out, "parachute-hub") != "inactive" {
		t.Fatalf("status with the unit stopped: exit %d\n%s", code, out)
	}
	if out := b.must("start", "web"); !strings.Contains(out, "web started") {
		t.Fatalf("start web with the hub stopped (must start the unit first):\n%s", out)
	}
	if got := systemctl(t, "is-active", "parachute-hub.service"); got != "active" {
		t.Fatalf("after start web, is-active = %q", got)
	}
	// Watchdog: with a 2 s WatchdogSec (a drop-in), systemd sees the hub's
	// WATCHDOG=1 pings: the timestamp moves and the hub is not killed.
	dropIn := "/etc/systemd/system/parachute-hub.service.d/watchdog.conf"
	os.MkdirAll(filepath.Dir(dropIn), 0o755)
	if err := os.WriteFile(dropIn, []byte("[Service]\nWatchdogSec=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	systemctl(t, "daemon-reload")
	b.must("restart")
	wdPID := mainPID(t)
	wd := func() string {
		return systemctl(t, "show", "-p", "WatchdogTimestampMonotonic", "--value", "parachute-hub.service")
	}
	first := wd()
	waitFor(t, "a watchdog ping after the first", 10*time.Second, func() bool { return wd() != first && wd() != "0" })
	second := wd()
	waitFor(t, "another watchdog ping", 10*time.Second, func() bool { return wd() != second })
	if p := mainPID(t); p != wdPID {
		t.Fatalf("the hub was restarted (MainPID %d → %d) under a 2 s watchdog", wdPID, p)
	}
	os.Remove(dropIn)
	systemctl(t, "daemon-reload")

	// The unit renders the same text as `unit render`.
	rendered := b.must("unit", "render", "systemd")
	installed, err := os.ReadFile("/etc/systemd/system/parachute-hub.service")
	if err != nil || string(installed) != rendered {
		t.Fatalf("installed unit differs from `unit render systemd` (%v)", err)
	}
	b.must("migrate", "--teardown")
	if _, err := os.Stat("/etc/systemd/system/parachute-hub.service"); !os.IsNotExist(err) {
		t.Fatalf("unit file still present after teardown: %v", err)
	}
	waitFor(t, "the hub to be gone after teardown", 15*time.Second, func() bool { return !healthy(1939) })
	if out := b.must("migrate", "--teardown"); !strings.Contains(out, "nothing to tear down") {
		t.Fatalf("second teardown:\n%s", out)
	}
}

// rowState returns the STATE column of the status row whose SERVICE starts
// with name.
func rowState(status, name string) string {
	for _, l := range strings.Split(status, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && (f[0] == name || strings.HasPrefix(f[0], name)) {
			for _, s := range f {
				switch s {
				case "active", "pending", "inactive", "failing":
					return s
				}
			}
		}
	}
	return ""
}

func boxFailingUnit(t *testing.T) {
	// The unit runs a copy of the binary; replacing that copy with one that
	// fails makes ExecStart fail, and the CLI must say so with the journal.
	dir := "/opt/ptest-fail"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "parachute")
	if err := copyFile(parachuteBin, bin); err != nil {
		t.Fatal(err)
	}
	b := newBox(t, "/var/lib/ptest-fail")
	cmd := exec.Command(bin, "init")
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	b.must("stop")
	broken := "#!/bin/sh\necho 'parachute: simulated broken build' >&2\nexit 3\n"
	if err := os.WriteFile(bin, []byte(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code := b.run("start")
	if code == 0 {
		t.Fatalf("start with a failing ExecStart exited 0:\n%s", out)
	}
	if !strings.Contains(out, "simulated broken build") {
		t.Fatalf("start failure does not show the journal lines:\n%s", out)
	}
	out, code = b.run("status")
	if code != 1 || rowState(out, "parachute-hub") != "failing" {
		t.Fatalf("status with a failed unit: exit %d\n%s", code, out)
	}
	b.must("migrate", "--teardown")
}

func boxMigrate(t *testing.T) {
	root := "/var/lib/ptest-migrate"
	b := newBox(t, root, module{name: "web", mode: []string{"serve"}, port: 2011},
		module{name: "api", mode: []string{"serve"}, port: 2012})
	// A fake legacy install: a detached "hub" on 1939 and detached modules,
	// each with its pidfile, none under any manager.
	legacy := func(port int, pidfile string) *os.Process {
		cmd := exec.Command(testmodBin, "serve")
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		if err := os.MkdirAll(filepath.Dir(pidfile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("legacy process on %d", port), 10*time.Second, func() bool { return listening(port) })
		return cmd.Process
	}
	hubProc := legacy(1939, filepath.Join(root, "hub", "run", "hub.pid"))
	webProc := legacy(2011, filepath.Join(root, "web", "run", "web.pid"))
	// An unrelated program holds api's port: migrate must not kill it.
	stranger := exec.Command("python3", "-m", "http.server", "--bind", "127.0.0.1", "2012")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stranger.Process.Kill(); stranger.Wait() }()
	waitFor(t, "the stranger on 2012", 10*time.Second, func() bool { return listening(2012) })

	// A module verb on the legacy box points at the cutover.
	if out, code := b.run("start", "web"); code != 1 || !strings.Contains(out, "migrate --to-supervised") {
		t.Fatalf("start web on a legacy box: exit %d\n%s", code, out)
	}

	out, code := b.run("migrate", "--to-supervised")
	if code != 1 || !strings.Contains(out, "port-stuck") || !strings.Contains(out, "refusing to kill") {
		t.Fatalf("migrate with a stranger on a module port: exit %d\n%s", code, out)
	}
	if stranger.ProcessState != nil || syscall.Kill(stranger.Process.Pid, 0) != nil {
		t.Fatal("migrate killed the unrelated program")
	}
	if syscall.Kill(hubProc.Pid, 0) == nil || syscall.Kill(webProc.Pid, 0) == nil {
		t.Fatal("legacy processes still alive after the cutover stopped them")
	}
	if got := systemctl(t, "is-active", "parachute-hub.service"); got == "active" {
		t.Fatal("the unit was started although a port was stuck")
	}
	// The operator frees the port; a re-run completes the cutover.
	stranger.Process.Kill()
	stranger.Wait()
	out = b.must("migrate", "--to-supervised")
	if !strings.Contains(out, "Migrated") {
		t.Fatalf("second migrate:\n%s", out)
	}
	if got := systemctl(t, "is-active", "parachute-hub.service"); got != "active" {
		t.Fatalf("is-active after migrate = %q", got)
	}
	st, _ := b.run("status")
	if rowState(st, "web") != "active" || rowState(st, "api") != "active" {
		t.Fatalf("modules after migrate:\n%s", st)
	}
	if out := b.must("migrate", "--to-supervised"); !strings.Contains(out, "Already migrated") {
		t.Fatalf("third migrate:\n%s", out)
	}
	b.must("migrate", "--teardown")
	if got := systemctl(t, "is-enabled", "parachute-hub.service"); got == "enabled" {
		t.Fatalf("still enabled after teardown")
	}
}

func listening(port int) bool {
	c := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

func boxUserUnit(t *testing.T) {
	if out, err := exec.Command("useradd", "--create-home", "--user-group", "pop").CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	u, err := user.Lookup("pop")
	if err != nil {
		t.Fatal(err)
	}
	// The user's manager must be running for a user unit; `init` asks
	// logind for lingering itself, but the bus has to exist to talk to it.
	if out, err := exec.Command("loginctl", "enable-linger", "pop").CombinedOutput(); err != nil {
		t.Fatalf("enable-linger: %v\n%s", err, out)
	}
	runtimeDir := "/run/user/" + u.Uid
	waitFor(t, "the user's bus", 20*time.Second, func() bool {
		_, err := os.Stat(runtimeDir + "/bus")
		return err == nil
	})
	asUser := func(args ...string) (string, int) {
		full := append([]string{"--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups", "env", "-i",
			"HOME=" + u.HomeDir, "USER=pop", "XDG_RUNTIME_DIR=" + runtimeDir, "PATH=/usr/bin:/bin", parachuteBin}, args...)
		out, err := exec.Command("setpriv", full...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	out, code := asUser("init")
	if code != 0 || !strings.Contains(out, "Installed systemd-user unit") {
		t.Fatalf("init as a user: exit %d\n%s", code, out)
	}
	unitPath := filepath.Join(u.HomeDir, ".config/systemd/user/parachute-hub.service")
	if _, err := os.Stat(unitPath); err != nil {
		t.Fatalf("user unit file: %v", err)
	}
	if _, err := os.Stat("/var/lib/systemd/linger/pop"); err != nil {
		t.Fatalf("lingering not enabled: %v", err)
	}
	if !healthy(1939) {
		t.Fatal("user hub does not answer /health")
	}
	out, code = asUser("status")
	if code != 0 || !strings.Contains(out, "managed unit (systemd)") {
		t.Fatalf("status as a user: exit %d\n%s", code, out)
	}
	if out, code := asUser("migrate", "--teardown"); code != 0 {
		t.Fatalf("teardown as a user: %d\n%s", code, out)
	}
}
