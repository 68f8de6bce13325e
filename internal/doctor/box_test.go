package doctor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubsvc"
	"github.com/openparachute/parachute/internal/servicemgr"
	"github.com/openparachute/parachute/internal/testenv"
)

// The doctor against a real systemd 252 booted by systemd-box in a
// throwaway root (never this machine's own systemd): the host test binds a
// copy of this test binary into the box and runs TestDoctorInBox there.
const (
	doctorInBoxEnv = "DOCTOR_IN_BOX"
	doctorBoxDir   = "/opt/doctor-test"
	hubUnitPath    = "/etc/systemd/system/parachute-hub.service"
)

func TestDoctorBox(t *testing.T) {
	if os.Getenv(doctorInBoxEnv) != "" {
		t.Skip("already inside the box")
	}
	dir := testenv.SelfDir(t, "doctor.test")
	box := testenv.BootBox(t, dir+":"+doctorBoxDir)
	box.RunTest(t, 2*time.Minute, doctorBoxDir+"/doctor.test", "TestDoctorInBox", "HOME=/root", doctorInBoxEnv+"=1")
}

// TestDoctorInBox runs the real probes (HostProbes) against real units.
func TestDoctorInBox(t *testing.T) {
	if os.Getenv(doctorInBoxEnv) == "" {
		t.Skip("runs inside systemd-box (TestDoctorBox)")
	}
	t.Setenv("PARACHUTE_HUB_URL", "http://127.0.0.1:1") // no hub answers in these scenarios
	t.Run("failed unit shows its journal", func(t *testing.T) {
		f := hubUnitError(t, "failed", "ExecStart=/bin/sh -c 'echo doctor-planted-failure; exit 3'")
		if !strings.Contains(f.Seen, "parachute-hub.service has failed (result exit-code") {
			t.Errorf("seen = %q", f.Seen)
		}
		if !strings.Contains(strings.Join(f.Detail, "\n"), "doctor-planted-failure") {
			t.Errorf("journal tail %q lacks the unit's output", f.Detail)
		}
		if !strings.Contains(f.Fix, "parachute logs hub") {
			t.Errorf("fix = %q", f.Fix)
		}
	})
	t.Run("failed on its configuration says EX_CONFIG", func(t *testing.T) {
		f := hubUnitError(t, "failed", "ExecStart=/bin/sh -c 'exit 78'", "Restart=on-failure", "RestartPreventExitStatus=78")
		if !strings.Contains(f.Seen, "has failed (result exit-code, exited 78 (EX_CONFIG: ") || !strings.Contains(f.Fix, "the setting to fix") {
			t.Errorf("exit 78: %+v", f)
		}
	})
	t.Run("killed by a signal says which", func(t *testing.T) {
		// systemd turns $$ into $, so the shell sees its own pid in $$.
		f := hubUnitError(t, "failed", "ExecStart=/bin/sh -c 'kill -KILL $$$$'")
		if !strings.Contains(f.Seen, "has failed (result signal, killed by signal 9 (killed))") {
			t.Errorf("SIGKILL: %+v", f)
		}
	})
	t.Run("crash-looping shows the last exit", func(t *testing.T) {
		// A long RestartSec holds the unit in auto-restart while doctor looks.
		f := hubUnitError(t, "activating", "ExecStart=/bin/sh -c 'exit 3'", "Restart=always", "RestartSec=1h")
		if !strings.Contains(f.Seen, "is crash-looping") || !strings.Contains(f.Seen, "result exit-code, exited 3") {
			t.Errorf("crash loop: %+v", f)
		}
	})
	t.Run("systemd PATH lacks bun the shell has", func(t *testing.T) {
		bunDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(bunDir, "bun"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bunDir+":"+os.Getenv("PATH"))
		writeHubUnit(t, "Environment=PATH=/usr/bin:/bin", "ExecStart=/bin/sleep infinity")
		systemctl(t, "start", "parachute-hub.service")
		waitState(t, "active")
		// Running: read from the hub process's own environment.
		f := findOne(t, inBoxReport(t), "module-path", Error)
		if !strings.Contains(f.Seen, "bun is on your shell's PATH ("+bunDir+"/bun)") || f.Fix == "" ||
			!strings.Contains(strings.Join(f.Detail, "\n"), "(the running hub, pid") {
			t.Errorf("running unit: %+v", f)
		}
		// Stopped: read from systemd's environment plus the unit's.
		systemctl(t, "stop", "parachute-hub.service")
		f = findOne(t, inBoxReport(t), "module-path", Error)
		if !strings.Contains(strings.Join(f.Detail, "\n"), "(the hub unit parachute-hub.service): /usr/bin:/bin") {
			t.Errorf("stopped unit: %+v", f)
		}
	})
	t.Run("no lingering for a user unit", func(t *testing.T) {
		if out, err := exec.Command("useradd", "--create-home", "--user-group", "dlinger").CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v\n%s", err, out)
		}
		d := &Doctor{Paths: config.Paths{Root: t.TempDir()},
			Probes: Probes{Kind: servicemgr.KindSystemdUser, User: "dlinger", Linger: linger}}
		f := findOne(t, d.Run(context.Background()), "linger", Warn)
		if f.Fix != "sudo loginctl enable-linger dlinger" {
			t.Errorf("no lingering: %+v", f)
		}
		if out, err := exec.Command("loginctl", "enable-linger", "dlinger").CombinedOutput(); err != nil {
			t.Fatalf("enable-linger: %v\n%s", err, out)
		}
		findOne(t, d.Run(context.Background()), "linger", OK)
	})
}

// inBoxReport runs the doctor with the real probes for the system unit.
func inBoxReport(t *testing.T) Report {
	t.Helper()
	paths := config.Paths{Root: t.TempDir()}
	m, err := servicemgr.Detect(servicemgr.HostDetectOptions())
	if err != nil || m.Kind() != servicemgr.KindSystemdSystem {
		t.Fatalf("Detect as root in the box = %v, %v; want systemd-system", m, err)
	}
	ctl := &hubsvc.Controller{Paths: paths, Mgr: m}
	return (&Doctor{Paths: paths, Probes: HostProbes(paths, ctl)}).Run(context.Background())
}

// hubUnitError starts a hub unit with the [Service] lines service, waits
// for it to reach the ActiveState state, and returns doctor's one
// hub-unit error about it.
func hubUnitError(t *testing.T, state string, service ...string) Finding {
	t.Helper()
	writeHubUnit(t, service...)
	systemctl(t, "start", "parachute-hub.service")
	waitState(t, state)
	return findOne(t, inBoxReport(t), "hub-unit", Error)
}

func findOne(t *testing.T, rep Report, check string, sev Severity) Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Check == check && f.Severity == sev {
			return f
		}
	}
	t.Fatalf("no %s %s finding in:\n%s", sev, check, dump(rep))
	return Finding{}
}

func writeHubUnit(t *testing.T, service ...string) {
	t.Helper()
	text := "[Unit]\nDescription=doctor test hub\n\n[Service]\nType=simple\n" + strings.Join(service, "\n") + "\n"
	if err := os.WriteFile(hubUnitPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	systemctl(t, "daemon-reload")
	t.Cleanup(func() {
		exec.Command("systemctl", "stop", "parachute-hub.service").Run()
		exec.Command("systemctl", "reset-failed", "parachute-hub.service").Run()
		os.Remove(hubUnitPath)
		exec.Command("systemctl", "daemon-reload").Run()
	})
}

func systemctl(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("systemctl", args...).CombinedOutput(); err != nil {
		t.Fatalf("systemctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// waitState polls systemd (with a deadline, not a sleep) until the hub
// unit's ActiveState is want.
func waitState(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		out, _ := exec.Command("systemctl", "show", "-p", "ActiveState", "--value", "parachute-hub.service").Output()
		if strings.TrimSpace(string(out)) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("parachute-hub.service is %q, want %q", strings.TrimSpace(string(out)), want)
		}
		<-tick.C
	}
}
