package doctor

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// parentOf reads a process's parent pid from /proc/<pid>/stat; 0 when it
// cannot.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after its last ')' are "state ppid ...".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// childArgvs is the command line of each child of pid, by child pid, read
// from /proc. Processes that exit while it looks are skipped.
var childArgvs = func(pid int) (map[int][]string, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	out := map[int][]string{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n <= 1 || parentOf(n) != pid {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue // gone, or a zombie
		}
		out[n] = strings.Split(string(bytes.TrimSuffix(b, []byte{0})), "\x00")
	}
	return out, nil
}
