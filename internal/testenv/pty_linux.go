package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OpenPTY opens a pseudo-terminal pair without a dependency (posix_openpt
// is open(/dev/ptmx), then unlock and ask the kernel for the slave's
// number), with output post-processing off so a test compares bytes. Both
// ends are closed when t ends; a machine without ptys skips t.
func OpenPTY(t testing.TB) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		t.Fatalf("unlockpt: %v", e)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("opening the pty slave: %v", err)
	}
	// Raw output: no "\n" → "\r\n" translation, so the test compares bytes.
	if tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS); err == nil {
		tio.Oflag &^= unix.OPOST
		_ = unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// ReadUntil reads the pty master m until want appears and returns what
// was read; each wait is bounded (10 s), so a missing prompt fails t
// instead of hanging it.
func ReadUntil(t testing.TB, m *os.File, want string) string {
	t.Helper()
	buf := make([]byte, 4096)
	var got []byte
	for !strings.Contains(string(got), want) {
		fds := []unix.PollFd{{Fd: int32(m.Fd()), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, 10000); err != nil || n == 0 {
			t.Fatalf("no %q on the terminal after %q (poll: %d, %v)", want, got, n, err)
		}
		n, err := unix.Read(int(m.Fd()), buf)
		if err != nil {
			t.Fatalf("reading the terminal after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	return string(got)
}

// EchoOn reports whether the terminal f echoes input.
func EchoOn(t testing.TB, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// WaitEchoOff waits, bounded (10 s), until the terminal f stops echoing:
// a hidden prompt prints its text just before it turns echo off, so the
// test watches the terminal state itself. A poll: a termios change has
// no notification.
func WaitEchoOff(t testing.TB, f *os.File) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); EchoOn(t, f); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("echo is still on 10 s after the prompt")
		}
	}
}
