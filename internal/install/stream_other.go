//go:build !unix

package install

import "os/exec"

// inOwnGroup does nothing where there are no process groups; cancellation
// kills the command itself.
func inOwnGroup(*exec.Cmd) {}
