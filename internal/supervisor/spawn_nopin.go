//go:build unix && !linux

package supervisor

import (
	"errors"
	"os/exec"
	"syscall"
)

// sysProcAttr puts the child in its own process group (pid == pgid). There
// is no parent-death signal outside Linux, so a SIGKILLed hub leaves its
// children; the next hub finds them through the run record (ReapStale).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// canPin is false: without waitid(WNOWAIT) the leader is reaped as soon as
// it exits, and the group is signalled only while it is seen non-empty.
const canPin = false

// waitLeader reaps the child (there is no WNOWAIT wait here).
func waitLeader(cmd *exec.Cmd) error {
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil
	}
	return err
}
