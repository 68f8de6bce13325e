package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts the child in its own process group (pid == pgid), so one
// signal reaches it and everything it forks, and asks the kernel to SIGKILL
// it when its parent dies. Why Pdeathsig: a hub killed with SIGKILL (OOM,
// a manager's stop timeout) cannot stop its children, and a child left
// behind holds its port and wedges the next hub's respawn. The "parent" is
// the forking *thread*, hence spawnLocked.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// canPin reports that waitLeader leaves the exited leader unreaped. While
// the zombie leader exists its pid, and so its process-group id, cannot be
// reused, which makes signalling the group after the leader exited safe.
const canPin = true

// waitLeader blocks until the child has exited without reaping it
// (waitid WNOWAIT); run.reap collects it later.
func waitLeader(cmd *exec.Cmd) error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil && !errors.Is(err, unix.ECHILD) {
			return fmt.Errorf("waiting for pid %d: %w", cmd.Process.Pid, err)
		}
		return nil
	}
}

// readProc reads /proc/<pid>/stat.
func readProc(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return procStat{}, errNoProcess
	}
	if err != nil {
		return procStat{}, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	return parseStat(pid, b)
}

// parseStat parses a /proc/<pid>/stat line. The command name (field 2) is
// in parentheses and may itself hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(pid int, b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	pgid, err1 := strconv.Atoi(string(f[2]))                // field 5
	sid, err2 := strconv.Atoi(string(f[3]))                 // field 6
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64) // field 22
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
	}
	state := f[0][0]
	st := procStat{PID: pid, PGID: pgid, SID: sid, Start: start, Zombie: state == 'Z' || state == 'X'}
	if len(f) >= 22 {
		// Usage is informational: a malformed figure reads as 0.
		utime, _ := strconv.ParseUint(string(f[11]), 10, 32) // field 14; 32 bits: no overflow below
		stime, _ := strconv.ParseUint(string(f[12]), 10, 32) // field 15
		pages, _ := strconv.ParseUint(string(f[21]), 10, 40) // field 24
		st.CPU = time.Duration(utime+stime) * (time.Second / clockTicks)
		st.RSS = int64(pages) * int64(os.Getpagesize())
	}
	return st, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports (the kernel fixes it for userspace ABI).
const clockTicks = 100

// haveProcUsage says readProc fills RSS and CPU.
const haveProcUsage = true

// groupMembers lists the live (non-zombie) processes of group pgid.
func groupMembers(pgid int) ([]procStat, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []procStat
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		st, err := readProc(pid)
		if err != nil || st.PGID != pgid || st.Zombie {
			continue // gone meanwhile, or not ours
		}
		out = append(out, st)
	}
	return out, nil
}
