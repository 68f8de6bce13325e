package servicemgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The tests in this file run inside systemd-box, started by TestSystemdBox.

// unitText renders a small service unit for the tests (package unit renders
// the real ones).
func unitText(typ, execStart, wantedBy string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "[Unit]\nDescription=servicemgr test\n")
	for _, l := range extra {
		if strings.HasPrefix(l, "Unit:") {
			fmt.Fprintln(&b, strings.TrimPrefix(l, "Unit:"))
		}
	}
	fmt.Fprintf(&b, "\n[Service]\nType=%s\nExecStart=%s\n", typ, execStart)
	for _, l := range extra {
		if !strings.HasPrefix(l, "Unit:") {
			fmt.Fprintln(&b, l)
		}
	}
	if wantedBy != "" {
		fmt.Fprintf(&b, "\n[Install]\nWantedBy=%s\n", wantedBy)
	}
	return []byte(b.String())
}

func notifyd(wantedBy string) []byte {
	return unitText("notify", boxBinary, wantedBy, "Environment="+helperEnv+"=notifyd")
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		<-tick.C
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// installed installs u with m and uninstalls it when the test ends.
func installed(t *testing.T, m Manager, u Unit, start bool) ([]string, error) {
	t.Helper()
	t.Cleanup(func() {
		if _, err := m.Uninstall(context.Background(), u.Name, u.Path); err != nil {
			t.Errorf("cleanup: uninstalling %s: %v", u.Name, err)
		}
	})
	return m.Install(testCtx(t), u, start)
}

func mustState(t *testing.T, m Manager, name, path string) State {
	t.Helper()
	st, err := m.State(testCtx(t), name, path)
	if err != nil {
		t.Fatalf("State(%s): %v", name, err)
	}
	return st
}

// stateCore drops what changes from run to run, for go-cmp.
var stateCore = cmpopts.IgnoreFields(State{}, "MainPID", "StartedAt")

func journalHas(m Manager, name, want string) func() error {
	return func() error {
		lines, err := m.JournalTail(context.Background(), name, 20)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if strings.Contains(l, want) {
				return nil
			}
		}
		return fmt.Errorf("no %q in the journal of %s: %q", want, name, lines)
	}
}

func TestInBox(t *testing.T) {
	if os.Getenv(inBoxEnv) != "root" {
		t.Skip("runs inside systemd-box, started by TestSystemdBox")
	}
	scenarios := map[string]func(*testing.T){
		"system-lifecycle": boxSystemLifecycle,
		"failing-start":    boxFailingStart,
		"dependency":       boxDependency,
		"start-timeout":    boxStartTimeout,
		"not-installed":    boxNotInstalled,
		"bad-unit":         boxBadUnit,
		"package-unit":     boxPackageUnit,
		"output-race":      boxOutputRace,
		"user-scope":       boxUserScope,
	}
	for _, name := range boxScenarios {
		t.Run(name, scenarios[name])
	}
}

func boxSystemLifecycle(t *testing.T) {
	m, err := Detect(HostDetectOptions())
	if err != nil || m.Kind() != KindSystemdSystem {
		t.Fatalf("Detect as root in the box = %v, %v; want systemd-system", m, err)
	}
	ctx := testCtx(t)
	u := Unit{Name: "sm-life.service", Path: UnitPath(KindSystemdSystem, "", "sm-life.service"), Content: notifyd("multi-user.target")}
	msgs, err := installed(t, m, u, true)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if diff := cmp.Diff([]string{"Installed systemd system unit sm-life.service — it now runs and starts on boot."}, msgs); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if _, err := os.Lstat("/etc/systemd/system/multi-user.target.wants/sm-life.service"); err != nil {
		t.Errorf("not enabled: %v", err)
	}
	running := State{Kind: KindSystemdSystem, Installed: true, Path: u.Path, LoadState: "loaded", ActiveState: "active",
		SubState: "running", UnitFileState: "enabled", Result: "success"}
	st := mustState(t, m, u.Name, u.Path)
	if diff := cmp.Diff(running, st, stateCore); diff != "" {
		t.Errorf("after install (-want +got):\n%s", diff)
	}
	if st.MainPID <= 0 || st.StartedAt.IsZero() {
		t.Errorf("after install: MainPID %d, StartedAt %v; want both set", st.MainPID, st.StartedAt)
	}
	eventually(t, "journal of a started unit", journalHas(m, u.Name, "notifyd ready"))

	if err := m.Restart(ctx, u.Name); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	st2 := mustState(t, m, u.Name, u.Path)
	if diff := cmp.Diff(running, st2, stateCore); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
	if st2.MainPID == st.MainPID || st2.MainPID <= 0 {
		t.Errorf("restart kept MainPID %d (was %d)", st2.MainPID, st.MainPID)
	}

	if err := m.Stop(ctx, u.Name); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped := running
	stopped.ActiveState, stopped.SubState, stopped.LastExitCode = "inactive", "dead", intp(0)
	if diff := cmp.Diff(stopped, mustState(t, m, u.Name, u.Path), stateCore); diff != "" {
		t.Errorf("after stop (-want +got):\n%s", diff)
	}
	if err := m.Stop(ctx, u.Name); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := m.Start(ctx, u.Name); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if diff := cmp.Diff(running, mustState(t, m, u.Name, u.Path), stateCore); diff != "" {
		t.Errorf("after start (-want +got):\n%s", diff)
	}

	removed, err := m.Uninstall(ctx, u.Name, u.Path)
	if err != nil || !removed {
		t.Fatalf("Uninstall = %v, %v; want true, nil", removed, err)
	}
	gone := State{Kind: KindSystemdSystem, Path: u.Path, LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}
	if diff := cmp.Diff(gone, mustState(t, m, u.Name, u.Path), stateCore); diff != "" {
		t.Errorf("after uninstall (-want +got):\n%s", diff)
	}
	if _, err := os.Lstat("/etc/systemd/system/multi-user.target.wants/sm-life.service"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wants/ symlink left behind: %v", err)
	}
	if removed, err := m.Uninstall(ctx, u.Name, u.Path); err != nil || removed {
		t.Errorf("second Uninstall = %v, %v; want false, nil", removed, err)
	}
}

func boxFailingStart(t *testing.T) {
	m := NewSystemd(SystemdOptions{})
	u := Unit{Name: "sm-fail.service", Path: UnitPath(KindSystemdSystem, "", "sm-fail.service"),
		Content: unitText("notify", `/bin/sh -c "echo sm-fail is failing; exit 3"`, "multi-user.target")}
	_, err := installed(t, m, u, true)
	var je *JobError
	if !errors.As(err, &je) {
		t.Fatalf("Install of a failing unit = %v, want *JobError", err)
	}
	if je.Op != "start" || je.Unit != u.Name || je.Result != "failed" || je.UnitResult != "exit-code" {
		t.Errorf("JobError = %+v, want start/failed/exit-code", je)
	}
	// The box's systemd logs to its console, not the journal, so only the
	// unit's own output is there (on a real host systemd's lines are too).
	if !strings.Contains(strings.Join(je.JournalTail, "\n"), "sm-fail is failing") {
		t.Errorf("JournalTail lacks the unit's output: %q", je.JournalTail)
	}
	st := mustState(t, m, u.Name, u.Path)
	want := State{Kind: KindSystemdSystem, Installed: true, Path: u.Path, LoadState: "loaded", ActiveState: "failed",
		SubState: "failed", UnitFileState: "enabled", Result: "exit-code", LastExitCode: intp(3)}
	if diff := cmp.Diff(want, st, stateCore); diff != "" {
		t.Errorf("state of the failed unit (-want +got):\n%s", diff)
	}
	// A second start (after the failure is reset) fails the same way.
	if err := m.Start(testCtx(t), u.Name); !errors.As(err, &je) || je.Result != "failed" {
		t.Errorf("second Start = %v, want a failed JobError", err)
	}
}

func boxDependency(t *testing.T) {
	m := NewSystemd(SystemdOptions{})
	dep := Unit{Name: "sm-dep.service", Path: UnitPath(KindSystemdSystem, "", "sm-dep.service"), Content: unitText("notify", "/bin/false", "")}
	top := Unit{Name: "sm-top.service", Path: UnitPath(KindSystemdSystem, "", "sm-top.service"),
		Content: unitText("notify", boxBinary, "", "Unit:Requires=sm-dep.service", "Unit:After=sm-dep.service", "Environment="+helperEnv+"=notifyd")}
	for _, u := range []Unit{dep, top} {
		msgs, err := installed(t, m, u, false)
		if err != nil {
			t.Fatalf("Install %s: %v", u.Name, err)
		}
		if !strings.Contains(strings.Join(msgs, "\n"), "no [Install] section") {
			t.Errorf("Install %s messages %q lack the no-[Install] note", u.Name, msgs)
		}
	}
	err := m.Start(testCtx(t), top.Name)
	var je *JobError
	if !errors.As(err, &je) || je.Result != "dependency" {
		t.Fatalf("Start with a failing dependency = %v, want a dependency JobError", err)
	}
}

func boxStartTimeout(t *testing.T) {
	m := NewSystemd(SystemdOptions{})
	u := Unit{Name: "sm-hang.service", Path: UnitPath(KindSystemdSystem, "", "sm-hang.service"),
		Content: unitText("notify", boxBinary, "", "Environment="+helperEnv+"=hang", "TimeoutStartSec=1")}
	if _, err := installed(t, m, u, false); err != nil {
		t.Fatal(err)
	}
	err := m.Start(testCtx(t), u.Name)
	var je *JobError
	if !errors.As(err, &je) || je.Result != "failed" || je.UnitResult != "timeout" {
		t.Fatalf("Start of a daemon that never gets ready = %v, want failed (timeout)", err)
	}
}

func boxNotInstalled(t *testing.T) {
	m := NewSystemd(SystemdOptions{})
	ctx := testCtx(t)
	for op, f := range map[string]func(context.Context, string) error{"start": m.Start, "stop": m.Stop, "restart": m.Restart} {
		if err := f(ctx, "sm-nope.service"); !errors.Is(err, ErrNotInstalled) {
			t.Errorf("%s of a missing unit = %v, want ErrNotInstalled", op, err)
		}
	}
	path := UnitPath(KindSystemdSystem, "", "sm-nope.service")
	want := State{Kind: KindSystemdSystem, Path: path, LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}
	if diff := cmp.Diff(want, mustState(t, m, "sm-nope.service", path), stateCore); diff != "" {
		t.Errorf("State of a missing unit (-want +got):\n%s", diff)
	}
	if removed, err := m.Uninstall(ctx, "sm-nope.service", path); err != nil || removed {
		t.Errorf("Uninstall of a missing unit = %v, %v; want false, nil", removed, err)
	}
}

// boxPackageUnit: a unit a .deb put in /lib/systemd/system is installed,
// even though the conventional path (/etc/systemd/system) has no file.
func boxPackageUnit(t *testing.T) {
	m := NewSystemd(SystemdOptions{})
	u := Unit{Name: "sm-pkg.service", Path: "/lib/systemd/system/sm-pkg.service", Content: notifyd("multi-user.target")}
	if _, err := installed(t, m, u, false); err != nil {
		t.Fatal(err)
	}
	etc := UnitPath(KindSystemdSystem, "", u.Name)
	want := State{Kind: KindSystemdSystem, Installed: true, Path: u.Path, LoadState: "loaded", ActiveState: "inactive",
		SubState: "dead", UnitFileState: "enabled", Result: "success"}
	if diff := cmp.Diff(want, mustState(t, m, u.Name, etc), stateCore); diff != "" {
		t.Errorf("State by the /etc path (-want +got):\n%s", diff)
	}
}

func boxBadUnit(t *testing.T) {
	m := NewSystemd(SystemdOptions{})
	u := Unit{Name: "sm-bad.service", Path: UnitPath(KindSystemdSystem, "", "sm-bad.service"),
		Content: []byte("[Service]\nType=simple\n\n[Install]\nWantedBy=multi-user.target\n")}
	_, err := installed(t, m, u, true)
	if err == nil || !strings.Contains(err.Error(), "bad-setting") {
		t.Fatalf("Install of a unit without ExecStart = %v, want a bad-setting error", err)
	}
}

// boxUserScope makes a user with lingering (through logind over D-Bus, as
// Install does), waits for its user manager, and runs TestInBoxUser as that
// user.
func boxUserScope(t *testing.T) {
	if out, err := exec.Command("useradd", "--create-home", "--user-group", "smuser").CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	u, err := user.Lookup("smuser")
	if err != nil {
		t.Fatal(err)
	}
	var uid int
	fmt.Sscan(u.Uid, &uid)
	if err := EnableLinger(testCtx(t), "", uid); err != nil {
		t.Fatalf("EnableLinger as root: %v", err)
	}
	if _, err := os.Stat("/var/lib/systemd/linger/smuser"); err != nil {
		t.Errorf("logind did not record lingering: %v", err)
	}
	runtimeDir := filepath.Join("/run/user", u.Uid)
	eventually(t, "the user's bus", func() error { _, err := os.Stat(filepath.Join(runtimeDir, "bus")); return err })
	out, err := exec.Command("setpriv", "--reuid="+u.Uid, "--regid="+u.Gid, "--init-groups",
		"env", "-i", "HOME="+u.HomeDir, "USER=smuser", "XDG_RUNTIME_DIR="+runtimeDir, "PATH=/usr/bin:/bin",
		inBoxEnv+"=user", boxBinary, "-test.run", "^TestInBoxUser$", "-test.v", "-test.count=1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestInBoxUser") {
		t.Fatalf("TestInBoxUser as smuser: %v\n%s", err, out)
	}
	t.Logf("as smuser:\n%s", out)
}

func TestInBoxUser(t *testing.T) {
	if os.Getenv(inBoxEnv) != "user" {
		t.Skip("runs inside systemd-box as a non-root user, started by TestInBox/user-scope")
	}
	m, err := Detect(HostDetectOptions())
	if err != nil || m.Kind() != KindSystemdUser {
		t.Fatalf("Detect as a user = %v, %v; want systemd-user", m, err)
	}
	home, _ := os.UserHomeDir()
	ctx := testCtx(t)
	u := Unit{Name: "sm-user.service", Path: UnitPath(KindSystemdUser, home, "sm-user.service"), Content: notifyd("default.target")}
	msgs, err := installed(t, m, u, true)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	// Lingering is already on (root enabled it), so there is no note.
	if diff := cmp.Diff([]string{"Installed systemd user unit sm-user.service — it now runs and starts on boot."}, msgs); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if _, err := os.Lstat(filepath.Join(home, ".config/systemd/user/default.target.wants/sm-user.service")); err != nil {
		t.Errorf("not enabled: %v", err)
	}
	running := State{Kind: KindSystemdUser, Installed: true, Path: u.Path, LoadState: "loaded", ActiveState: "active",
		SubState: "running", UnitFileState: "enabled", Result: "success"}
	st := mustState(t, m, u.Name, u.Path)
	if diff := cmp.Diff(running, st, stateCore); diff != "" || st.MainPID <= 0 {
		t.Errorf("after install, MainPID %d (-want +got):\n%s", st.MainPID, diff)
	}
	eventually(t, "journal of the user unit", journalHas(m, u.Name, "notifyd ready"))
	if err := m.Restart(ctx, u.Name); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if st2 := mustState(t, m, u.Name, u.Path); st2.MainPID == st.MainPID || st2.ActiveState != "active" {
		t.Errorf("after restart: %+v (MainPID was %d)", st2, st.MainPID)
	}
	if removed, err := m.Uninstall(ctx, u.Name, u.Path); err != nil || !removed {
		t.Fatalf("Uninstall = %v, %v", removed, err)
	}

	// When logind cannot be asked, the install still succeeds, with a note.
	uid := os.Getuid()
	noLogind := NewSystemd(SystemdOptions{User: true, UID: uid, RuntimeDir: os.Getenv("XDG_RUNTIME_DIR"),
		SystemBusAddress: "unix:path=/nonexistent/system_bus_socket"})
	u2 := Unit{Name: "sm-user2.service", Path: UnitPath(KindSystemdUser, home, "sm-user2.service"), Content: notifyd("default.target")}
	msgs, err = installed(t, noLogind, u2, false)
	if err != nil {
		t.Fatalf("Install without logind: %v", err)
	}
	if len(msgs) != 2 || !strings.Contains(msgs[0], "could not enable lingering") || !strings.Contains(msgs[0], "loginctl enable-linger smuser") {
		t.Errorf("messages %q lack the lingering note", msgs)
	}

	outputRace(t, KindSystemdUser, filepath.Join(home, "sm-race-n"), func(wait time.Duration) *Systemd {
		return NewSystemd(SystemdOptions{User: true, UID: uid, RuntimeDir: os.Getenv("XDG_RUNTIME_DIR"), OutputWait: wait})
	})
	user := NewSystemd(SystemdOptions{User: true, UID: uid, RuntimeDir: os.Getenv("XDG_RUNTIME_DIR")})
	failedLogs(t, KindSystemdUser, filepath.Join(home, "sm-logs-n"), user)
	followKeepsGoing(t, KindSystemdUser, user)
}
