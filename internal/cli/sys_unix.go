package cli

import "syscall"

// syscallKill0 checks that pid exists.
func syscallKill0(pid int) error { return syscall.Kill(pid, 0) }
