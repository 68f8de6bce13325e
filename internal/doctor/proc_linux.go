package doctor

import (
	"context"

	"github.com/openparachute/parachute/internal/expose/prior"
)

// parentOf is a process's parent pid, read from /proc by prior.Inspect;
// 0 when it cannot (or the process is gone).
func parentOf(pid int) int {
	p, err := prior.Inspect(context.Background(), pid)
	if err != nil {
		return 0
	}
	return p.PPID
}

// childArgvs is the command line of each child of pid, by child pid, read
// from /proc by prior.List. Processes that exit while it looks are skipped.
var childArgvs = func(pid int) (map[int][]string, error) {
	ps, err := prior.List(context.Background())
	if err != nil {
		return nil, err
	}
	out := map[int][]string{}
	for _, p := range ps {
		if p.PPID == pid {
			out[p.PID] = p.Argv
		}
	}
	return out, nil
}
