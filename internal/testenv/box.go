package testenv

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Box is a running systemd-box: a real systemd 252 with D-Bus and journald
// in a throwaway Debian root (../shared/tools/systemd-box). It is stopped
// when the test that booted it ends.
type Box struct {
	Tool string // the systemd-box script
	PID  string // the box's PID 1, as systemd-box prints it
}

// BoxTool finds systemd-box: $SYSTEMD_BOX, else ../shared/tools beside the
// repository root (the folder holding go.mod), else PATH.
func BoxTool() string {
	if p := os.Getenv("SYSTEMD_BOX"); p != "" {
		return p
	}
	if dir, err := os.Getwd(); err == nil {
		for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				p := filepath.Join(d, "..", "shared", "tools", "systemd-box")
				if _, err := os.Stat(p); err == nil {
					return p
				}
				break
			}
		}
	}
	p, _ := exec.LookPath("systemd-box")
	return p
}

// BootBox boots a box with each bind ("HOST:BOX" or "DIR") visible inside,
// masks systemd's generators (they only slow every daemon-reload down), and
// stops the box at cleanup. Without root, the tool or its prebuilt root it
// skips the test (fails it in CI); with -short it skips.
func BootBox(t testing.TB, binds ...string) *Box {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not booting systemd")
	}
	NeedRoot(t, "systemd-box boots systemd in new namespaces")
	tool := BoxTool()
	if tool == "" {
		Unavailable(t, "systemd-box not found (set SYSTEMD_BOX or keep ../shared/tools beside the repository)")
	}
	// Building the root takes a while and must not race another package's
	// first boot: it is a one-time setup step (.ci/run boots a box first).
	root := os.Getenv("SYSTEMD_BOX_ROOT")
	if root == "" {
		root = "/var/cache/systemd-box/root"
	}
	if _, err := os.Stat(filepath.Join(root, "lib", "systemd", "systemd")); err != nil {
		Unavailable(t, "systemd-box root %s is not built; run `%s test true` once", root, tool)
	}
	lockBoxes(t)
	args := []string{"start"}
	for _, b := range binds {
		args = append(args, "--bind", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		Unavailable(t, "systemd-box could not boot systemd here: %v\n%s", err, stderr.String())
	}
	b := &Box{Tool: tool, PID: strings.TrimSpace(string(out))}
	t.Cleanup(func() {
		if out, err := exec.Command(tool, "stop", b.PID).CombinedOutput(); err != nil {
			t.Errorf("stopping the box: %v\n%s", err, out)
		}
	})
	mask := `mkdir -p /etc/systemd/system-generators && for g in /lib/systemd/system-generators/*; do ` +
		`ln -sf /dev/null /etc/systemd/system-generators/${g##*/}; done && systemctl daemon-reload`
	if out, err := b.Run(context.Background(), "sh", "-c", mask); err != nil {
		t.Fatalf("masking generators in the box: %v\n%s", err, out)
	}
	return b
}

// Run runs a command inside the box and returns its combined output.
func (b *Box) Run(ctx context.Context, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, b.Tool, append([]string{"run", b.PID}, args...)...).CombinedOutput()
}

// BoxPATH is the PATH a command run in a box gets from RunTest unless env
// names another.
const BoxPATH = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// RunTest runs the test named test ("TestX", or "TestX/sub") of the test
// binary exe inside the box, with only BoxPATH and env in its environment
// (a later PATH= in env wins), and fails t unless it passes within
// timeout. Its output is logged when this test runs with -v.
func (b *Box) RunTest(t testing.TB, timeout time.Duration, exe, test string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pattern := "^" + strings.ReplaceAll(test, "/", "$/^") + "$"
	args := append(append([]string{"env", "-i", BoxPATH}, env...), exe, "-test.run", pattern, "-test.v", "-test.count=1")
	out, err := b.Run(ctx, args...)
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+test)) {
		t.Fatalf("in-box %s: %v\n%s", test, err, out)
	}
	if testing.Verbose() {
		t.Logf("in-box output:\n%s", out)
	}
}

// SelfDir copies the running test binary to name in a fresh directory that
// others can enter and read (t.TempDir is 0700; a box's non-root user must
// run the binary), and returns the directory, ready to bind into a box.
func SelfDir(t testing.TB, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CopyFile(self, filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// CopyFile copies src to dst with mode.
func CopyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// boxLockPath is the lock that serialises booted boxes across test
// processes (go test runs packages in parallel).
const boxLockPath = "/run/lock/parachute-systemd-box.lock"

// lockBoxes waits until no other test holds a box and holds the lock until
// t's cleanup. Why: systemd-box gives each box its own PID, mount and
// network namespaces but not a cgroup namespace, and binds the host's
// /sys. Every box's systemd therefore manages the same host cgroup paths
// (system.slice/parachute-hub.service, user-1000.slice, …): two boxes
// running a hub at once share one unit cgroup, and one box's systemd or
// hub (which kills leftover mod-* cgroups at start) can kill the other's
// modules. One box at a time makes the box tests independent of each other.
// The lock is an flock on an open file, so a killed test releases it.
func lockBoxes(t testing.TB) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(boxLockPath), 0o755); err != nil {
		t.Fatalf("creating the box lock's directory: %v", err)
	}
	f, err := os.OpenFile(boxLockPath, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatalf("opening the box lock: %v", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		t.Fatalf("taking the box lock: %v", err)
	}
	// Registered before the box's own cleanup, so it runs after it (LIFO):
	// the lock is released once the box is stopped.
	t.Cleanup(func() { f.Close() })
}
