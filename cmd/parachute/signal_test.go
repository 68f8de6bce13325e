//go:build linux

package main

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

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

	out := testenv.ReadUntil(t, master, "Password for")
	testenv.WaitEchoOff(t, slave)
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
	if !testenv.EchoOn(t, slave) {
		t.Error("the terminal's echo is still off after Ctrl-C at the password prompt")
	}
}
