package prior

import (
	"errors"
	"strconv"
	"strings"
)

// psFormat is the `ps -o` list parsePS reads.
const psFormat = "pid=,uid=,ppid=,stat=,command="

// parsePS reads one line of `ps -o pid=,uid=,ppid=,stat=,command=`: the
// pid, owner, parent pid, the state letters and the command line joined
// by spaces. A zombie ("Z") is gone.
func parsePS(line string) (Process, error) {
	f := strings.Fields(line)
	if len(f) < 5 {
		return Process{}, errors.New("want pid, uid, parent pid, state and command")
	}
	var n [3]int
	for i := range n {
		v, err := strconv.Atoi(f[i])
		if err != nil || v < 0 {
			return Process{}, errors.New("pid, uid or parent pid is not a number")
		}
		n[i] = v
	}
	if strings.HasPrefix(f[3], "Z") {
		return Process{}, ErrNoProcess
	}
	return Process{PID: n[0], UID: n[1], PPID: n[2], Argv: f[4:]}, nil
}
