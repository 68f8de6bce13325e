//go:build unix

package install

import (
	"os/exec"
	"syscall"
)

// inOwnGroup starts cmd in a process group of its own and, on
// cancellation, kills the whole group. Why: an init may start helpers
// (bun spawns workers); killing only the direct child would leave them
// running under the hub.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
