package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
	"golang.org/x/sys/unix"
)

// testCgroups makes a throwaway cgroup v2 subtree below the test process's
// own cgroup, marks it delegated the way systemd does, and hands it to
// setupCgroups, which moves the test process into <root>/hub. Cleanup moves
// the process back and removes the subtree. It needs root (or a delegated
// cgroup) and a cgroup v2 hierarchy: systemd-box tests cover the real unit.
func testCgroups(t *testing.T) *Cgroups {
	t.Helper()
	own, err := ownCgroupDir()
	if err != nil || own == "" {
		testenv.Unavailable(t, "no cgroup v2 hierarchy here (%v)", err)
	}
	if unix.Access(own, unix.W_OK) != nil {
		testenv.Unavailable(t, "cgroup %s is not writable: needs root or a delegated cgroup", own)
	}
	b := make([]byte, 4)
	rand.Read(b)
	root := filepath.Join(own, "parachute-test-"+hex.EncodeToString(b))
	if err := os.Mkdir(root, 0o755); err != nil {
		testenv.Unavailable(t, "cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := writeCgroupFile(filepath.Join(own, "cgroup.procs"), strconv.Itoa(os.Getpid())); err != nil {
			t.Errorf("moving the test process back to %s: %v", own, err)
		}
		dirs, _ := filepath.Glob(filepath.Join(root, "*"))
		for _, d := range dirs {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				if err := unix.Rmdir(d); err != nil {
					t.Errorf("cgroup %s left behind: %v", d, err)
				}
			}
		}
		if err := unix.Rmdir(root); err != nil {
			t.Errorf("cgroup %s left behind: %v", root, err)
		}
	})
	// systemd marks a delegated cgroup so; ReapStale checks the mark.
	if err := unix.Setxattr(root, "trusted.delegate", []byte("1"), 0); err != nil {
		t.Logf("cannot mark %s delegated (%v); the record-based reap is not covered", root, err)
	}
	cg, err := setupCgroups(root, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("setupCgroups: %v", err)
	}
	if got, _ := ownCgroupDir(); got != filepath.Join(root, hubLeaf) {
		t.Fatalf("test process in %s after setup, want %s/%s", got, root, hubLeaf)
	}
	return cg
}

// alivePID reports whether pid is a live (non-zombie) process.
func alivePID(pid int) bool {
	st, err := readProc(pid)
	return err == nil && !st.Zombie
}

// TestCgroupStopKillsSetsidEscapee: a module double-forks a grandchild into
// a new session that ignores SIGTERM. Its process group cannot reach it;
// its cgroup does. Stop kills it, and the module's cgroup is removed.
func TestCgroupStopKillsSetsidEscapee(t *testing.T) {
	cg := testCgroups(t)
	h := newHarness(t, Options{Cgroups: cg})
	spec := h.spec("vault", "setsid")
	spec.Policy.StopGrace = 200 * time.Millisecond
	st, err := h.sup.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cg.Root(), modPrefix+"vault")
	if st.Cgroup != dir {
		t.Fatalf("State.Cgroup = %q, want %q", st.Cgroup, dir)
	}
	h.waitLog("vault", "escapee up")
	escapee := 0
	lines, _ := h.sup.Logs("vault", 0)
	for _, l := range lines {
		if p, ok := strings.CutPrefix(l, "[vault] escapee "); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil {
				escapee = n
			}
		}
	}
	gst, err := readProc(escapee)
	if err != nil || gst.PGID == st.PID {
		t.Fatalf("grandchild %d: %+v, %v; want it outside the module's group %d", escapee, gst, err, st.PID)
	}
	procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, pid := range []int{st.PID, escapee} {
		if !strings.Contains("\n"+string(procs), "\n"+strconv.Itoa(pid)+"\n") {
			t.Errorf("pid %d not in %s/cgroup.procs:\n%s", pid, dir, procs)
		}
	}
	u, ok := h.sup.Usage("vault")
	if !ok || u.MemoryBytes <= 0 || u.CPU <= 0 {
		t.Errorf("Usage = %+v, %v; want memory and CPU > 0", u, ok)
	}
	if all := h.sup.UsageAll(); all["vault"].MemoryBytes <= 0 {
		t.Errorf("UsageAll = %+v; want vault's cgroup usage", all)
	}

	if _, _, err := h.sup.Stop(context.Background(), "vault"); err != nil {
		t.Fatal(err)
	}
	if alivePID(escapee) {
		t.Errorf("setsid grandchild %d survived Stop", escapee)
		syscall.Kill(escapee, syscall.SIGKILL)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("module cgroup %s still there after Stop (%v)", dir, err)
	}
	if st := h.state("vault"); st.Cgroup != "" {
		t.Errorf("State.Cgroup = %q after Stop, want empty", st.Cgroup)
	}
}

// TestCgroupSetupReapsLeftovers: at hub start, whatever a previous hub left
// in a module cgroup of the subtree is killed and the cgroup removed.
func TestCgroupSetupReapsLeftovers(t *testing.T) {
	cg := testCgroups(t)
	stale := filepath.Join(cg.Root(), modPrefix+"old")
	if err := os.Mkdir(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, exited := startSleeperIn(t, stale)
	if _, err := setupCgroups(cg.Root(), slog.New(slog.DiscardHandler)); err != nil { // a second hub start
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the stale module survived setup")
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale cgroup %s not removed (%v)", stale, err)
	}
}

// TestUsageWithoutCgroup: in process-group mode the usage is the main
// process's.
func TestUsageWithoutCgroup(t *testing.T) {
	h := newHarness(t, Options{})
	st, err := h.sup.Start(context.Background(), h.spec("vault", "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Cgroup != "" {
		t.Errorf("State.Cgroup = %q without Cgroups", st.Cgroup)
	}
	h.waitLog("vault", "sleeping") // right after exec the new image may have no resident page yet
	u, ok := h.sup.Usage("vault")
	if !ok || u.MemoryBytes <= 0 {
		t.Errorf("Usage = %+v, %v; want memory > 0", u, ok)
	}
	if _, ok := h.sup.Usage("nope"); ok {
		t.Errorf("Usage of an unknown module succeeded")
	}
	all := h.sup.UsageAll()
	if len(all) != 1 || all["vault"].MemoryBytes <= 0 {
		t.Errorf("UsageAll = %+v; want vault with memory > 0", all)
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`/sys/fs/cgroup`: "/sys/fs/cgroup", `/a\040b`: "/a b", `/x\`: `/x\`, `/y\0`: `/y\0`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReapStaleKillsRecordedCgroup: a child record that names a module
// cgroup of a delegated subtree is reaped through the cgroup, grandchildren
// that left the process group included.
func TestReapStaleKillsRecordedCgroup(t *testing.T) {
	cg := testCgroups(t)
	if !delegated(cg.Root()) {
		testenv.Unavailable(t, "cannot mark a test cgroup delegated (trusted.delegate xattr) here")
	}
	dir := filepath.Join(cg.Root(), modPrefix+"old")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, exited := startSleeperIn(t, dir)
	exe, _ := os.Executable()
	runDir := t.TempDir()
	// A record of another (dead) hub: pid 1's start time never matches.
	rec := childRecord{PID: cmd.Process.Pid, PGID: cmd.Process.Pid, Argv: []string{exe}, HubPID: 1, HubStartTimeTicks: 1, Cgroup: dir}
	if err := writeRecord(filepath.Join(runDir, "old"+recordExt), rec); err != nil {
		t.Fatal(err)
	}
	killed, err := ReapStale(runDir, slog.New(slog.DiscardHandler))
	if err != nil || !killed {
		t.Fatalf("ReapStale = %v, %v; want killed", killed, err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the recorded module survived ReapStale")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s not removed (%v)", dir, err)
	}
	if recs, _ := filepath.Glob(filepath.Join(runDir, "*"+recordExt)); len(recs) != 0 {
		t.Errorf("records left: %v", recs)
	}
}

// startSleeperIn starts a TERM-ignoring sleeping child (our own test binary)
// directly inside cgroup dir, in its own session, as a previous hub's module
// would be; exited receives its Wait result.
func startSleeperIn(t *testing.T, dir string) (*exec.Cmd, <-chan error) {
	t.Helper()
	exe, _ := os.Executable()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childModeEnv+"=sleep", "IGNORE_TERM=1")
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, Setsid: true}
	err = cmd.Start()
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, exited
}

// TestSignalCgroupFallback: the pre-cgroup.kill path (kernels < 5.14)
// signals each live process of the cgroup once.
func TestSignalCgroupFallback(t *testing.T) {
	cg := testCgroups(t)
	dir := filepath.Join(cg.Root(), modPrefix+"sig")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroup(dir, slog.New(slog.DiscardHandler)) })
	cmd, exited := startSleeperIn(t, dir)
	if n, err := signalCgroup(dir, unix.SIGKILL); n != 1 || err != nil {
		cmd.Process.Kill()
		t.Fatalf("signalCgroup signalled %d processes (%v), want 1", n, err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child survived signalCgroup(SIGKILL)")
	}
}
