package servicemgr

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetect(t *testing.T) {
	withSystemd := func(p string) bool { return p == "/run/systemd/system" }
	without := func(string) bool { return false }
	hasLaunchctl := func(string) (string, error) { return "/bin/launchctl", nil }
	noLaunchctl := func(string) (string, error) { return "", exec.ErrNotFound }
	tests := []struct {
		name string
		opts DetectOptions
		want Kind
	}{
		{"linux root with systemd", DetectOptions{GOOS: "linux", EUID: 0, Exists: withSystemd}, KindSystemdSystem},
		{"linux user with systemd", DetectOptions{GOOS: "linux", EUID: 1000, UID: 1000, Exists: withSystemd}, KindSystemdUser},
		{"linux container as root", DetectOptions{GOOS: "linux", EUID: 0, Exists: without}, KindNone},
		{"linux container as a user", DetectOptions{GOOS: "linux", EUID: 1000, Exists: without}, KindNone},
		{"darwin user", DetectOptions{GOOS: "darwin", EUID: 501, UID: 501, LookPath: hasLaunchctl}, KindLaunchd},
		{"darwin root", DetectOptions{GOOS: "darwin", EUID: 0, LookPath: hasLaunchctl}, KindLaunchdSystem},
		{"darwin without launchctl", DetectOptions{GOOS: "darwin", EUID: 501, LookPath: noLaunchctl}, KindNone},
		{"freebsd", DetectOptions{GOOS: "freebsd", EUID: 0, Exists: withSystemd}, KindNone},
		{"forced none on a systemd host", DetectOptions{GOOS: "linux", EUID: 0, Exists: withSystemd, ForceKind: KindNone}, KindNone},
		{"forced launchd on linux", DetectOptions{GOOS: "linux", EUID: 1000, Exists: withSystemd, ForceKind: KindLaunchd}, KindLaunchd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Detect(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Kind(); got != tc.want {
				t.Errorf("Kind = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := Detect(DetectOptions{ForceKind: "upstart"}); err == nil {
		t.Error("Detect with an unknown ForceKind succeeded")
	}
}

func TestInstalledKinds(t *testing.T) {
	files := func(paths ...string) func(string) bool {
		return func(p string) bool {
			for _, f := range paths {
				if f == p {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name string
		opts DetectOptions
		unit string
		want []Kind
	}{
		{"linux, system unit only", DetectOptions{GOOS: "linux", Home: "/home/op", Exists: files("/etc/systemd/system/parachute-hub.service")},
			"parachute-hub.service", []Kind{KindSystemdSystem}},
		{"linux, both", DetectOptions{GOOS: "linux", Home: "/home/op", Exists: files("/etc/systemd/system/parachute-hub.service", "/home/op/.config/systemd/user/parachute-hub.service")},
			"parachute-hub.service", []Kind{KindSystemdSystem, KindSystemdUser}},
		{"darwin, agent only", DetectOptions{GOOS: "darwin", Home: "/Users/op", Exists: files("/Users/op/Library/LaunchAgents/computer.parachute.hub.plist")},
			"computer.parachute.hub", []Kind{KindLaunchd}},
		{"nothing", DetectOptions{GOOS: "linux", Home: "/home/op", Exists: files()}, "parachute-hub.service", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, InstalledKinds(tc.opts, tc.unit)); diff != "" {
				t.Errorf("InstalledKinds (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnitPath(t *testing.T) {
	got := map[Kind]string{}
	for _, k := range []Kind{KindSystemdSystem, KindSystemdUser, KindLaunchd, KindLaunchdSystem, KindNone} {
		name := "parachute-hub.service"
		if strings.HasPrefix(string(k), "launchd") {
			name = "computer.parachute.hub"
		}
		got[k] = UnitPath(k, "/home/op", name)
	}
	want := map[Kind]string{
		KindSystemdSystem: "/etc/systemd/system/parachute-hub.service",
		KindSystemdUser:   "/home/op/.config/systemd/user/parachute-hub.service",
		KindLaunchd:       "/home/op/Library/LaunchAgents/computer.parachute.hub.plist",
		KindLaunchdSystem: "/Library/LaunchDaemons/computer.parachute.hub.plist",
		KindNone:          "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UnitPath (-want +got):\n%s", diff)
	}
}

func TestNoneSaysServe(t *testing.T) {
	ctx := context.Background()
	var m Manager = None{}
	_, errInstall := m.Install(ctx, Unit{Name: "x.service", Path: t.TempDir() + "/x.service"}, true)
	_, errUninstall := m.Uninstall(ctx, "x.service", "/nonexistent")
	st, errState := m.State(ctx, "x.service", "/nonexistent")
	_, errJournal := m.JournalTail(ctx, "x.service", 5)
	errs := map[string]error{
		"install":   errInstall,
		"uninstall": errUninstall,
		"start":     m.Start(ctx, "x.service"),
		"stop":      m.Stop(ctx, "x.service"),
		"restart":   m.Restart(ctx, "x.service"),
		"state":     errState,
		"journal":   errJournal,
	}
	for op, err := range errs {
		if !errors.Is(err, ErrNoManager) {
			t.Errorf("%s: err = %v, want ErrNoManager", op, err)
		}
	}
	if st.Kind != KindNone {
		t.Errorf("State.Kind = %s", st.Kind)
	}
	if !strings.Contains(ErrNoManager.Error(), "`parachute serve`") {
		t.Errorf("ErrNoManager does not point at parachute serve: %v", ErrNoManager)
	}
}

// TestSystemdUserWithoutBus checks the clear error a non-root caller gets
// when there is no user bus (su, sudo, cron): every operation names the
// socket it looked for and what to do, and State still reports the file.
func TestSystemdUserWithoutBus(t *testing.T) {
	dir := t.TempDir()
	m := NewSystemd(SystemdOptions{User: true, UID: 4321, RuntimeDir: dir})
	st, err := m.State(context.Background(), "parachute-hub.service", dir+"/missing.service")
	if !errors.Is(err, ErrNoUserBus) {
		t.Fatalf("State err = %v, want ErrNoUserBus", err)
	}
	for _, want := range []string{dir + "/bus", "loginctl enable-linger"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if diff := cmp.Diff(State{Kind: KindSystemdUser, Path: dir + "/missing.service"}, st); diff != "" {
		t.Errorf("State (-want +got):\n%s", diff)
	}
	if err := m.Start(context.Background(), "parachute-hub.service"); !errors.Is(err, ErrNoUserBus) {
		t.Errorf("Start err = %v, want ErrNoUserBus", err)
	}
}

func TestJobErrorMessage(t *testing.T) {
	tests := []struct {
		err  JobError
		want string
	}{
		{JobError{Op: "start", Unit: "a.service", Result: "failed", UnitResult: "exit-code"}, "start a.service: job failed (exit-code)"},
		{JobError{Op: "start", Unit: "a.service", Result: "dependency"}, "start a.service: a unit it depends on failed"},
		{JobError{Op: "restart", Unit: "a.service", Result: "timeout", UnitResult: "success"}, "restart a.service: job timed out"},
		{JobError{Op: "stop", Unit: "hub", Result: "failed", Detail: "launchctl bootout: Operation not permitted"}, "stop hub: job failed: launchctl bootout: Operation not permitted"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}
