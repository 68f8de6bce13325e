// Package reaper is the init a container needs when `parachute serve` is
// its PID 1. A PID 1 inherits every orphaned process of its PID namespace
// (a module that double-forks, bun's own helpers) and must wait for them,
// or they stay zombies until the container stops; the kernel also drops
// signals to PID 1 that it has no handler for. The hub's supervisor waits
// for its own children by pid, and a wait4(-1) in the same process would
// steal those exits. So, tini-style, PID 1 forks the real hub as its only
// child and does nothing but reap and forward signals, and the hub never
// sees a grandchild's exit.
package reaper

import (
	"errors"
	"os"
	"syscall"
)

// ErrUnsupported means this platform has no reaper (only Linux runs
// parachute as a container's PID 1).
var ErrUnsupported = errors.New("the reaper runs on Linux only")

// Forwarded are the signals PID 1 passes on to the hub: the runtime's stop
// signal and the interactive ones.
var Forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// ShouldRun reports whether this process is a PID 1 that must reap, for
// the verb args[0]: only `serve` starts children. PARACHUTE_NO_REAPER=1
// turns it off (a runtime with its own init, e.g. `docker run --init`,
// already reaps).
func ShouldRun(pid int, args []string, getenv func(string) string) bool {
	return pid == 1 && len(args) > 0 && args[0] == "serve" && getenv("PARACHUTE_NO_REAPER") != "1"
}

// exitCode is the shell's convention for a child's status: its exit code,
// or 128 plus the signal that killed it.
func exitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 1
}
