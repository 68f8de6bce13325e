//go:build unix && !linux && !darwin

package supervisor

import (
	"errors"
	"os/exec"
	"syscall"
)

// sysProcAttr puts the child in its own process group (pid == pgid).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// canPin is false: the leader is reaped as soon as it exits.
const canPin = false

// waitLeader reaps the child.
func waitLeader(cmd *exec.Cmd) error {
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil
	}
	return err
}

// readProc cannot inspect processes here, so ReapStale refuses to kill.
func readProc(int) (procStat, error) { return procStat{}, errProcUnsupported }

// groupMembers cannot list groups here; groupAlive falls back to kill(-pgid, 0).
func groupMembers(int) ([]procStat, error) { return nil, errProcUnsupported }
