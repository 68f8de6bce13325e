package supervisor

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procStat is what the supervisor needs to know about a process to decide
// whether it may signal it: its group, session and a start stamp that tells
// a process from a later one that reused its pid.
type procStat struct {
	PID    int
	PGID   int
	SID    int
	Start  uint64        // Linux: clock ticks since boot (/proc/<pid>/stat field 22); macOS: µs since the epoch
	Zombie bool          // exited, not yet reaped
	RSS    int64         // resident memory in bytes (Linux; 0 elsewhere)
	CPU    time.Duration // user + system CPU time (Linux; 0 elsewhere)
}

var (
	// errNoProcess means the pid does not exist.
	errNoProcess = errors.New("no such process")
	// errProcUnsupported means this platform cannot inspect processes.
	errProcUnsupported = errors.New("process inspection not supported on this platform")
)

// groupAlive reports whether process group pgid has a live (non-zombie)
// member. Where members cannot be listed it falls back to kill(-pgid, 0),
// which also counts zombies awaiting their reaper.
func groupAlive(pgid int) bool {
	members, err := groupMembers(pgid)
	if err == nil {
		return len(members) > 0
	}
	err = unix.Kill(-pgid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// signalSent, when set (tests), is called after each signal the package
// sends: target is -pgid for a process group, else the pid. Tests use it to
// let every delivery land before the next is sent, since a signal sent
// while the same one is still pending is merged into it.
var signalSent func(target int, sig syscall.Signal)

// signalGroup sends sig to process group pgid; when the group is already
// gone (ESRCH) and leader is non-nil it signals the leader itself (it may
// have left the group). Other errors (EPERM) are returned.
//
// Callers must only pass a pgid they know is still theirs (see run.signal).
func signalGroup(pgid int, sig syscall.Signal, leader func(syscall.Signal) error) error {
	err := unix.Kill(-pgid, sig)
	if err == nil && signalSent != nil {
		signalSent(-pgid, sig)
	}
	if errors.Is(err, unix.ESRCH) && leader != nil {
		err = leader(sig)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sending %s to process group %d: %w", unix.SignalName(sig), pgid, err)
	}
	return nil
}
