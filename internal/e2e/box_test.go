package e2e

import (
	"context"
	"fmt"
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

var boxScenarios = []string{"system-unit", "failing-unit", "migrate", "cgroups", "user-unit", "logs-hub"}

// TestServiceManager boots systemd in a box and runs the CLI scenarios there.
func TestServiceManager(t *testing.T) {
	if os.Getenv(inBoxEnv) != "" {
		t.Skip("already inside the box")
	}
	dir := testenv.SelfDir(t, "e2e.test")
	box := testenv.BootBox(t, dir+":"+boxDir, filepath.Dir(parachuteBin)+":"+boxBin)
	for _, name := range boxScenarios {
		t.Run(name, func(t *testing.T) {
			box.RunTest(t, 3*time.Minute, boxTest, "TestInBox/"+name, "HOME=/root", inBoxEnv+"=root")
		})
	}
}

// TestInBox holds the scenarios; it only runs inside the box. Each
// scenario runs for the system unit (as root) and for a user unit (as a
// lingering non-root user driving its own systemd --user).
func TestInBox(t *testing.T) {
	if os.Getenv(inBoxEnv) != "root" {
		t.Skip("runs inside systemd-box, started by TestServiceManager")
	}
	t.Run("system-unit", func(t *testing.T) { unitScenario(t, rootScope(t, "/var/lib/ptest")) })
	t.Run("failing-unit", func(t *testing.T) { failingScenario(t, rootScope(t, "/var/lib/ptest-fail"), "/opt/ptest-fail") })
	t.Run("migrate", func(t *testing.T) { migrateScenario(t, rootScope(t, "/var/lib/ptest-migrate")) })
	t.Run("cgroups", func(t *testing.T) { cgroupScenario(t, rootScope(t, "/var/lib/ptest-cgroups")) })
	t.Run("logs-hub", func(t *testing.T) {
		u := lingerUser(t, "logsop")
		logsHubScenario(t, userScope(t, u, u.HomeDir+"/logs-root"), u.HomeDir+"/logs-bin")
	})
	t.Run("user-unit", func(t *testing.T) {
		u := lingerUser(t, "pop")
		unitScenario(t, userScope(t, u, u.HomeDir+"/.parachute"))
		failingScenario(t, userScope(t, u, u.HomeDir+"/fail-root"), u.HomeDir+"/fail-bin")
		migrateScenario(t, userScope(t, u, u.HomeDir+"/migrate-root"))
		cgroupScenario(t, userScope(t, u, u.HomeDir+"/cgroup-root"))
	})
}

// scope drives the CLI and systemctl as root (system unit) or as a user
// (user unit).
type scope struct {
	t    *testing.T
	root string
	user *user.User // nil: root
	uid  int
	gid  int
}

func rootScope(t *testing.T, root string) *scope {
	return &scope{t: t, root: root}
}

func userScope(t *testing.T, u *user.User, root string) *scope {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &scope{t: t, root: root, user: u, uid: uid, gid: gid}
}

// lingerUser makes the user name with lingering, so its user manager
// runs without a login, and waits for its bus. Each scenario that runs in
// the same box needs its own name: user-unit makes "pop", logs-hub
// "logsop".
func lingerUser(t *testing.T, name string) *user.User {
	if out, err := exec.Command("useradd", "--create-home", "--user-group", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("loginctl", "enable-linger", name).CombinedOutput(); err != nil {
		t.Fatalf("enable-linger: %v\n%s", err, out)
	}
	waitFor(t, "the user's bus", 20*time.Second, func() bool {
		_, err := os.Stat("/run/user/" + u.Uid + "/bus")
		return err == nil
	})
	return u
}

// command builds cmd to run as the scope's account.
func (s *scope) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if s.user == nil {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), "PARACHUTE_HOME="+s.root)
		return cmd
	}
	full := append([]string{"--reuid=" + s.user.Uid, "--regid=" + s.user.Gid, "--init-groups", "env", "-i",
		"HOME=" + s.user.HomeDir, "USER=" + s.user.Username, "XDG_RUNTIME_DIR=/run/user/" + s.user.Uid,
		"PATH=/usr/bin:/bin", "PARACHUTE_HOME=" + s.root, name}, args...)
	return exec.CommandContext(ctx, "setpriv", full...)
}

func (s *scope) run(args ...string) (string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := s.command(ctx, parachuteBin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("parachute %v: %v", args, err)
	}
	return string(out), code
}

func (s *scope) must(args ...string) string {
	s.t.Helper()
	out, code := s.run(args...)
	if code != 0 {
		s.t.Fatalf("parachute %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (s *scope) systemctl(args ...string) string {
	s.t.Helper()
	if s.user != nil {
		args = append([]string{"--user"}, args...)
	}
	// Stdout alone: it holds the state callers compare ("active"), and a
	// warning on stderr (a unit file changed on disk) must not join it.
	out, _ := s.command(context.Background(), "systemctl", args...).Output()
	return strings.TrimSpace(string(out))
}

func (s *scope) mainPID() int {
	pid, _ := strconv.Atoi(s.systemctl("show", "-p", "MainPID", "--value", "parachute-hub.service"))
	return pid
}

// unitDir is where this scope's units live.
func (s *scope) unitDir() string {
	if s.user != nil {
		return filepath.Join(s.user.HomeDir, ".config/systemd/user")
	}
	return "/etc/systemd/system"
}

// own gives the scope's account the files under path (the test writes them
// as root).
func (s *scope) own(path string) {
	if s.user == nil {
		return
	}
	if out, err := exec.Command("chown", "-R", s.user.Uid+":"+s.user.Gid, path).CombinedOutput(); err != nil {
		s.t.Fatalf("chown %s: %v\n%s", path, err, out)
	}
}

// register writes services.json and module.json files for mods under the
// scope's root.
func (s *scope) register(mods ...module) {
	t := s.t
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, m := range mods {
		dir := filepath.Join(s.root, "modules", m.name)
		if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeJSON(t, filepath.Join(dir, ".parachute", "module.json"), map[string]any{"name": m.name, "port": m.port,
			"paths": []string{"/" + m.name}, "health": "/" + m.name + "/health", "startCmd": append([]string{testmodBin}, m.mode...)})
		rows = append(rows, map[string]any{"name": m.name, "port": m.port, "paths": []string{"/" + m.name},
			"health": "/" + m.name + "/health", "version": "1.0.0", "installDir": dir})
	}
	if rows != nil {
		writeJSON(t, filepath.Join(s.root, "services.json"), map[string]any{"services": rows})
	}
	s.own(s.root)
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

func unitScenario(t *testing.T, s *scope) {
	s.register(module{name: "web", mode: []string{"serve"}, port: 2001})
	out := s.must("init")
	if !strings.Contains(out, "Installed") || !strings.Contains(out, "answering") {
		t.Fatalf("init output:\n%s", out)
	}
	if got := s.systemctl("is-enabled", "parachute-hub.service"); got != "enabled" {
		t.Fatalf("is-enabled = %q", got)
	}
	if got := s.systemctl("is-active", "parachute-hub.service"); got != "active" {
		t.Fatalf("is-active = %q", got)
	}
	if !healthy(1939) {
		t.Fatal("/health does not answer on 127.0.0.1:1939")
	}
	if s.user != nil {
		if _, err := os.Stat("/var/lib/systemd/linger/" + s.user.Username); err != nil {
			t.Fatalf("lingering not enabled for the user unit: %v", err)
		}
	}
	// Idempotent.
	if out := s.must("init"); !strings.Contains(out, "nothing to change") {
		t.Fatalf("second init changed something:\n%s", out)
	}
	waitFor(t, "module web active under the unit", 15*time.Second, func() bool {
		out, _ := s.run("status")
		return strings.Contains(out, "managed unit (systemd)") && rowState(out, "web") == "active"
	})

	// restart → new MainPID.
	pid1 := s.mainPID()
	if out := s.must("restart"); !strings.Contains(out, "hub restarted") {
		t.Fatalf("restart:\n%s", out)
	}
	pid2 := s.mainPID()
	if pid2 == 0 || pid2 == pid1 {
		t.Fatalf("MainPID %d → %d after restart", pid1, pid2)
	}

	// systemd restarts a killed hub, and the modules come back.
	s.systemctl("kill", "-s", "KILL", "parachute-hub.service")
	waitFor(t, "systemd to restart the killed hub", 30*time.Second, func() bool {
		p := s.mainPID()
		return p != 0 && p != pid2 && healthy(1939)
	})
	waitFor(t, "web back after the hub was killed", 20*time.Second, func() bool {
		out, _ := s.run("status")
		return rowState(out, "web") == "active"
	})

	// stop / start through the manager.
	if out := s.must("stop"); !strings.Contains(out, "hub stopped") {
		t.Fatalf("stop:\n%s", out)
	}
	if got := s.systemctl("is-active", "parachute-hub.service"); got != "inactive" {
		t.Fatalf("after stop is-active = %q", got)
	}
	out, code := s.run("status")
	if code != 0 || rowState(out, "parachute-hub") != "inactive" {
		t.Fatalf("status with the unit stopped: exit %d\n%s", code, out)
	}
	if out := s.must("start", "web"); !strings.Contains(out, "web started") {
		t.Fatalf("start web with the hub stopped (must start the unit first):\n%s", out)
	}
	if got := s.systemctl("is-active", "parachute-hub.service"); got != "active" {
		t.Fatalf("after start web, is-active = %q", got)
	}
	// Watchdog: with a 2 s WatchdogSec (a drop-in), systemd sees the hub's
	// WATCHDOG=1 pings: the timestamp moves and the hub is not killed.
	dropIn := filepath.Join(s.unitDir(), "parachute-hub.service.d", "watchdog.conf")
	os.MkdirAll(filepath.Dir(dropIn), 0o755)
	if err := os.WriteFile(dropIn, []byte("[Service]\nWatchdogSec=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.systemctl("daemon-reload")
	s.must("restart")
	wdPID := s.mainPID()
	wd := func() string {
		return s.systemctl("show", "-p", "WatchdogTimestampMonotonic", "--value", "parachute-hub.service")
	}
	first := wd()
	waitFor(t, "a watchdog ping after the first", 10*time.Second, func() bool { return wd() != first && wd() != "0" })
	second := wd()
	waitFor(t, "another watchdog ping", 10*time.Second, func() bool { return wd() != second })
	if p := s.mainPID(); p != wdPID {
		t.Fatalf("the hub was restarted (MainPID %d → %d) under a 2 s watchdog", wdPID, p)
	}
	os.RemoveAll(filepath.Dir(dropIn))
	s.systemctl("daemon-reload")

	// The unit renders the same text as `unit render`.
	kind := "systemd"
	if s.user != nil {
		kind = "systemd-user"
	}
	// Compared byte for byte, so stdout alone.
	rendered, err := s.command(context.Background(), parachuteBin, "unit", "render", kind).Output()
	if err != nil {
		t.Fatalf("unit render %s: %v", kind, err)
	}
	unitFile := filepath.Join(s.unitDir(), "parachute-hub.service")
	installed, err := os.ReadFile(unitFile)
	if err != nil || string(installed) != string(rendered) {
		t.Fatalf("installed unit differs from `unit render %s` (%v)", kind, err)
	}
	s.must("migrate", "--teardown")
	if _, err := os.Stat(unitFile); !os.IsNotExist(err) {
		t.Fatalf("unit file still present after teardown: %v", err)
	}
	waitFor(t, "the hub to be gone after teardown", 15*time.Second, func() bool { return !healthy(1939) })
	if out := s.must("migrate", "--teardown"); !strings.Contains(out, "nothing to tear down") {
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

// failingScenario installs the unit from a copy of the binary, then
// replaces that copy with one that fails: ExecStart fails, and the CLI must
// say so with the journal's lines.
func failingScenario(t *testing.T, s *scope, binDir string) {
	installBroken(t, s, binDir, "#!/bin/sh\necho 'parachute: simulated broken build' >&2\nexit 3\n")
	out, code := s.run("start")
	if code == 0 {
		t.Fatalf("start with a failing ExecStart exited 0:\n%s", out)
	}
	if !strings.Contains(out, "simulated broken build") {
		t.Fatalf("start failure does not show the journal lines:\n%s", out)
	}
	out, code = s.run("status")
	if code != 1 || rowState(out, "parachute-hub") != "failing" {
		t.Fatalf("status with a failed unit: exit %d\n%s", code, out)
	}
	s.must("migrate", "--teardown")
}

// installBroken installs the hub's unit from a copy of the binary in
// binDir, stops it, and replaces that copy with the shell script broken,
// so that the unit's ExecStart fails from then on.
func installBroken(t *testing.T, s *scope, binDir, broken string) {
	t.Helper()
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "parachute")
	if err := testenv.CopyFile(parachuteBin, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	s.register()
	s.own(binDir)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if out, err := s.command(ctx, bin, "init").CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	s.must("stop")
	if err := os.WriteFile(bin, []byte(broken), 0o755); err != nil {
		t.Fatal(err)
	}
}

func migrateScenario(t *testing.T, s *scope) {
	root := s.root
	s.register(module{name: "web", mode: []string{"serve"}, port: 2011}, module{name: "jobs", mode: []string{"serve"}, port: 2012})
	// A fake legacy install: a detached "hub" on 1939 and detached modules,
	// each with its pidfile, none under any manager, owned by the scope's
	// account.
	legacy := func(port int, pidfile string) *os.Process {
		cmd := exec.Command(testmodBin, "serve")
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if s.user != nil {
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid)}
		}
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
	s.own(root)
	// An unrelated program holds jobs's port: migrate must not kill it.
	stranger := exec.Command("python3", "-m", "http.server", "--bind", "127.0.0.1", "2012")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stranger.Process.Kill(); stranger.Wait() }()
	waitFor(t, "the stranger on 2012", 10*time.Second, func() bool { return listening(2012) })

	// A module verb on the legacy box points at the cutover.
	if out, code := s.run("start", "web"); code != 1 || !strings.Contains(out, "migrate --to-supervised") {
		t.Fatalf("start web on a legacy box: exit %d\n%s", code, out)
	}

	out, code := s.run("migrate", "--to-supervised")
	if code != 1 || !strings.Contains(out, "port-stuck") || !strings.Contains(out, "refusing to kill") {
		t.Fatalf("migrate with a stranger on a module port: exit %d\n%s", code, out)
	}
	if syscall.Kill(stranger.Process.Pid, 0) != nil {
		t.Fatal("migrate killed the unrelated program")
	}
	if syscall.Kill(hubProc.Pid, 0) == nil || syscall.Kill(webProc.Pid, 0) == nil {
		t.Fatal("legacy processes still alive after the cutover stopped them")
	}
	if got := s.systemctl("is-active", "parachute-hub.service"); got == "active" {
		t.Fatal("the unit was started although a port was stuck")
	}
	// The operator frees the port; a re-run completes the cutover.
	stranger.Process.Kill()
	stranger.Wait()
	out = s.must("migrate", "--to-supervised")
	if !strings.Contains(out, "Migrated") {
		t.Fatalf("second migrate:\n%s", out)
	}
	if got := s.systemctl("is-active", "parachute-hub.service"); got != "active" {
		t.Fatalf("is-active after migrate = %q", got)
	}
	st, _ := s.run("status")
	if rowState(st, "web") != "active" || rowState(st, "jobs") != "active" {
		t.Fatalf("modules after migrate:\n%s", st)
	}
	if out := s.must("migrate", "--to-supervised"); !strings.Contains(out, "Already migrated") {
		t.Fatalf("third migrate:\n%s", out)
	}
	s.must("migrate", "--teardown")
	if got := s.systemctl("is-enabled", "parachute-hub.service"); got == "enabled" {
		t.Fatalf("still enabled after teardown")
	}
	waitFor(t, "the hub to be gone after teardown", 15*time.Second, func() bool { return !healthy(1939) })
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
