package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openparachute/parachute/internal/testenv"
)

// TestCtrlCAtThePasswordPromptRestoresEcho types Ctrl-C into a real
// terminal while `auth set-password` waits for the password. The kernel
// sends SIGINT to the foreground process; main must turn it into a
// cancelled context so the prompt gives the terminal its echo back, and the
// process exits 130. (Go's default for SIGINT ends the process at once,
// leaving the user's shell without echo.)
func TestCtrlCAtThePasswordPromptRestoresEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	master, slave := testenv.OpenPTY(t)
	cmd := exec.Command(bin, "auth", "set-password")
	cmd.Env = append(os.Environ(), "PARACHUTE_HOME="+t.TempDir(), "PARACHUTE_HUB_URL=http://127.0.0.1:1", "PARACHUTE_HUB_ORIGIN=")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// Its own session with the pty as controlling terminal: the pty's
	// line discipline then signals it for Ctrl-C, as a shell's job would be.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			<-exited
		}
	}()

	out := readUntil(t, master, "Password for")
	for deadline := time.Now().Add(10 * time.Second); echoOn(t, slave); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("echo is still on 10 s after the password prompt")
		}
	}
	if _, err := master.Write([]byte{0x03}); err != nil { // ^C
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		waited = true
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Fatalf("after Ctrl-C: %v (exit code %d), want exit 130; output %q", err, cmd.ProcessState.ExitCode(), out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("set-password still runs 10 s after Ctrl-C")
	}
	if !echoOn(t, slave) {
		t.Error("the terminal's echo is still off after Ctrl-C at the password prompt")
	}
}

// buildBinary builds parachute into t's temp directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parachute")
	build := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func echoOn(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// readUntil reads the pty master until want appears, each wait bounded.
func readUntil(t *testing.T, m *os.File, want string) string {
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
