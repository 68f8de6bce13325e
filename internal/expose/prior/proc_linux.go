package prior

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// inspect reads /proc/<pid>/cmdline and the parent from /proc/<pid>/stat.
// A zombie's cmdline is empty: it runs nothing any more, so it is gone.
func inspect(_ context.Context, pid int) (Process, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	cmd, err := os.ReadFile(dir + "/cmdline")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) || (err == nil && len(cmd) == 0) {
		return Process{}, ErrNoProcess
	}
	if err != nil {
		return Process{}, fmt.Errorf("reading %s/cmdline: %w", dir, err)
	}
	stat, err := os.ReadFile(dir + "/stat")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return Process{}, ErrNoProcess
	}
	if err != nil {
		return Process{}, fmt.Errorf("reading %s/stat: %w", dir, err)
	}
	ppid, zombie, err := parseStat(stat)
	if err != nil {
		return Process{}, fmt.Errorf("reading %s/stat: %w", dir, err)
	}
	if zombie {
		return Process{}, ErrNoProcess
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return Process{}, ErrNoProcess
	}
	uid := -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid = int(st.Uid)
	}
	return Process{PID: pid, UID: uid, PPID: ppid, Argv: parseCmdline(cmd)}, nil
}

// list inspects every process in /proc; those that exit meanwhile, or
// cannot be read, are left out.
func list(ctx context.Context) ([]Process, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var ps []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 {
			continue
		}
		if p, err := inspect(ctx, pid); err == nil {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// parseCmdline splits /proc/<pid>/cmdline (NUL-terminated arguments).
func parseCmdline(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// parseStat reads the state and parent pid of a /proc/<pid>/stat line.
// The command name (field 2) is in parentheses and may itself hold spaces
// and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (ppid int, zombie bool, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, errors.New("no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || f[0] == "" {
		return 0, false, fmt.Errorf("%d fields", len(f)+2)
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, false, fmt.Errorf("parent pid: %w", err)
	}
	return ppid, f[0] == "Z" || f[0] == "X", nil
}
