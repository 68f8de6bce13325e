package prior

import (
	"errors"
	"strconv"
	"strings"
)

// parsePS reads one line of `ps -o ppid=,stat=,command=`: the parent pid,
// the state letters and the command line joined by spaces. A zombie ("Z")
// is gone.
func parsePS(pid int, out string) (Process, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	f := strings.Fields(line)
	if len(f) < 3 {
		return Process{}, errors.New("want parent pid, state and command")
	}
	ppid, err := strconv.Atoi(f[0])
	if err != nil || ppid < 0 {
		return Process{}, errors.New("parent pid is not a number")
	}
	if strings.HasPrefix(f[1], "Z") {
		return Process{}, ErrNoProcess
	}
	return Process{PID: pid, PPID: ppid, Argv: f[2:]}, nil
}
