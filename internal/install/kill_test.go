package install

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/testenv"
)

// killChildEnv makes the test binary the helper process of runKilled
// instead of running tests.
const killChildEnv = "PARACHUTE_INSTALL_KILL_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(killChildEnv) != "" {
		os.Exit(killChildMain())
	}
	os.Exit(m.Run())
}

// killChildMain installs $KILL_TGZ into $KILL_ROOT with npm's prefix
// $KILL_PREFIX. At every step of the replacement it writes the step's name
// to fd 3 and waits for a byte on fd 4, so the parent can SIGKILL it there.
func killChildMain() int {
	steps, acks := os.NewFile(3, "steps"), os.NewFile(4, "acks")
	stepHook = func(s string) {
		var b [1]byte
		if _, err := fmt.Fprintln(steps, s); err != nil {
			os.Exit(3)
		}
		if _, err := acks.Read(b[:]); err != nil {
			os.Exit(3)
		}
	}
	in, _ := installerAt(os.Getenv("KILL_ROOT"), os.Getenv("KILL_PREFIX"), nil, nil, nil)
	if _, err := in.Install(context.Background(), Request{Source: os.Getenv("KILL_TGZ"), NoStart: true, AllowDowngrade: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// runKilled runs the helper process and SIGKILLs its whole process group
// (as systemd does to a hub's cgroup) when it reports killAt; "" lets it
// finish. It returns the steps the helper reported.
func runKilled(t *testing.T, root, prefix, tgz, killAt string) []string {
	t.Helper()
	stepsR, stepsW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	acksR, acksW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stepsR.Close()
	defer acksW.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"=1", "KILL_ROOT="+root, "KILL_PREFIX="+prefix, "KILL_TGZ="+tgz)
	cmd.ExtraFiles = []*os.File{stepsW, acksR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stepsW.Close()
	acksR.Close()
	killGroup := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A watchdog, not synchronisation: a helper stuck outside the hooks
	// (npm hanging) must not hang the test run.
	watchdog := time.AfterFunc(2*time.Minute, killGroup)
	defer watchdog.Stop()

	var steps []string
	killed := false
	sc := bufio.NewScanner(stepsR)
	for sc.Scan() {
		steps = append(steps, sc.Text())
		if sc.Text() == killAt {
			killGroup()
			killed = true
			break
		}
		if _, err := acksW.Write([]byte{1}); err != nil {
			t.Fatalf("acknowledging step %s: %v", sc.Text(), err)
		}
	}
	err = cmd.Wait()
	switch {
	case killed:
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("helper was not killed at %s: %v\n%s", killAt, err, out.String())
		}
	case killAt != "":
		t.Fatalf("helper never reached step %q (steps %q): %v\n%s", killAt, steps, err, out.String())
	case err != nil:
		t.Fatalf("helper failed: %v\n%s", err, out.String())
	}
	// The helper's process group is gone: no npm left writing.
	if err := syscall.Kill(-cmd.Process.Pid, 0); err == nil {
		t.Fatalf("processes of the helper's group %d outlived it", cmd.Process.Pid)
	}
	return steps
}

// TestReplaceKilledAtEveryStep is issue 8 item 4: a reinstall killed with
// SIGKILL at any step of the replacement is finished or rolled back by
// Recover, leaving one complete version with a matching row and nothing
// behind. The replacements run in turn on one root, each from the state
// the previous recovery left, alternating between two versions.
func TestReplaceKilledAtEveryStep(t *testing.T) {
	needNPM(t)
	ctx := context.Background()
	base := t.TempDir()
	root, prefix := filepath.Join(base, "root"), filepath.Join(base, "prefix")
	tgz := map[string]string{}
	for _, v := range []string{"1.0.0", "2.0.0"} {
		src := writeModule(t, filepath.Join(base, "src-"+v), fixture{pkg: "parachute-killtest", version: v, name: "killtest"})
		tgz[v] = packTarball(t, src, filepath.Join(base, "killtest-"+v+".tgz"))
	}
	in, paths := installerAt(root, prefix, nil, nil, nil)
	if _, err := in.Install(ctx, Request{Source: tgz["1.0.0"], NoStart: true}); err != nil {
		t.Fatal(err)
	}
	dir := rows(t, paths)["killtest"].InstallDir
	other := map[string]string{"1.0.0": "2.0.0", "2.0.0": "1.0.0"}

	// Every step of one replacement, in order, and what Recover makes of
	// a kill there: a replacement is rolled back until it is accepted.
	sequence := []struct {
		step     string
		kind     string // the RecoveryAction's Kind; "" for none
		finished bool   // the new version stays
	}{
		{step: stepMovingAside, kind: RecoveryCleaned},
		{step: "renamed", kind: RecoveryRolledBack},
		{step: stepMovedAside, kind: RecoveryRolledBack},
		{step: "installed", kind: RecoveryRolledBack},
		{step: stepRegistering, kind: RecoveryRolledBack},
		{step: "registered", kind: RecoveryRolledBack},
		{step: stepCommitting, kind: RecoveryFinished, finished: true},
		{step: "prev-removed", kind: RecoveryFinished, finished: true},
		{step: "cleared", finished: true},
	}
	cur := "1.0.0"
	t.Run("uninterrupted", func(t *testing.T) {
		var want []string
		for _, s := range sequence {
			want = append(want, s.step)
		}
		if d := cmp.Diff(want, runKilled(t, root, prefix, tgz[other[cur]], "")); d != "" {
			t.Fatalf("steps of a replacement (-want +got):\n%s", d)
		}
		cur = other[cur]
		assertIntact(t, paths, dir, cur)
	})
	for _, s := range sequence {
		t.Run("killed at "+s.step, func(t *testing.T) {
			target := other[cur]
			steps := runKilled(t, root, prefix, tgz[target], s.step)
			if steps[len(steps)-1] != s.step {
				t.Fatalf("killed after %q, want at %q", steps, s.step)
			}
			var logs testenv.SyncBuffer
			acts, err := Recover(paths, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("Recover: %v\n%s", err, logs.String())
			}
			if s.finished {
				cur = target
			}
			assertIntact(t, paths, dir, cur)
			var kinds []string
			for _, a := range acts {
				kinds = append(kinds, a.Kind)
				if a.Module != "killtest" || a.Dir != dir || !strings.Contains(logs.String(), a.Message) {
					t.Fatalf("action %+v (module, dir, or not logged in %q)", a, logs.String())
				}
			}
			var wantKinds []string
			if s.kind != "" {
				wantKinds = []string{s.kind}
			}
			if d := cmp.Diff(wantKinds, kinds); d != "" {
				t.Fatalf("recovery actions (-want +got):\n%s\n%s", d, logs.String())
			}
			if again, err := Recover(paths, nil); err != nil || len(again) != 0 {
				t.Fatalf("a second Recover = %+v, %v; want nothing to do", again, err)
			}
		})
	}
	t.Run("install after recoveries", func(t *testing.T) {
		res, err := in.Install(ctx, Request{Source: tgz[other[cur]], NoStart: true, AllowDowngrade: true})
		if err != nil {
			t.Fatal(err)
		}
		assertIntact(t, paths, dir, res.Version)
	})
}

// assertIntact checks that the module's package directory holds version
// with its module.json, that its row says the same, and that no backup,
// journal or temp file is left.
func assertIntact(t *testing.T, paths config.Paths, dir, version string) {
	t.Helper()
	row := rows(t, paths)["killtest"]
	if row.Version != version || row.InstallDir != dir {
		t.Fatalf("row = %s at %s, want %s at %s", row.Version, row.InstallDir, version, dir)
	}
	pkg, err := readPackageJSON(dir)
	if err != nil || pkg.Version != version {
		t.Fatalf("package.json in %s = %+v, %v; want version %s", dir, pkg, err, version)
	}
	if _, err := manifest.LoadModule(dir); err != nil {
		t.Fatalf("module.json: %v", err)
	}
	for _, d := range []string{paths.Root, filepath.Dir(dir)} {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), "parachute-prev") || strings.Contains(e.Name(), ".tmp-") || e.Name() == journalName {
				t.Fatalf("%s left in %s", e.Name(), d)
			}
		}
	}
}

// TestFreshInstallKilledAtEveryStep: a first install killed at any step
// either is not installed at all (no directory, no row) or is installed
// completely; each case starts from nothing.
func TestFreshInstallKilledAtEveryStep(t *testing.T) {
	needNPM(t)
	base := t.TempDir()
	root, prefix := filepath.Join(base, "root"), filepath.Join(base, "prefix")
	src := writeModule(t, filepath.Join(base, "src"), fixture{pkg: "parachute-killtest", version: "1.0.0", name: "killtest"})
	tgz := packTarball(t, src, filepath.Join(base, "killtest-1.0.0.tgz"))
	paths := config.Paths{Root: root}
	dir := filepath.Join(prefix, "lib", "node_modules", "parachute-killtest")
	sequence := []struct {
		step, kind string
		installed  bool
	}{
		{step: stepMovedAside, kind: RecoveryRolledBack},
		{step: "installed", kind: RecoveryRolledBack},
		{step: stepRegistering, kind: RecoveryRolledBack},
		{step: "registered", kind: RecoveryFinished, installed: true},
		{step: "cleared", installed: true},
	}
	for _, s := range sequence {
		t.Run("killed at "+s.step, func(t *testing.T) {
			runKilled(t, root, prefix, tgz, s.step)
			acts, err := Recover(paths, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.installed {
				assertIntact(t, paths, dir, "1.0.0")
			} else {
				if exists(dir) {
					t.Fatalf("%s left after recovering an interrupted first install", dir)
				}
				if names := rowNames(t, paths); len(names) != 0 {
					t.Fatalf("rows after recovering an interrupted first install: %v", names)
				}
				assertNoJournal(t, paths)
			}
			var kinds []string
			for _, a := range acts {
				kinds = append(kinds, a.Kind)
			}
			var want []string
			if s.kind != "" {
				want = []string{s.kind}
			}
			if d := cmp.Diff(want, kinds); d != "" {
				t.Fatalf("recovery actions (-want +got):\n%s", d)
			}
			// Back to nothing for the next case.
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(paths.ServicesJSON()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
