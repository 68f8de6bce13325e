//go:build !linux

package prior

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/servicemgr"
)

// runPS runs ps; a variable so tests can hand it recorded output.
var runPS = servicemgr.ExecRunner

// inspect asks `ps -o ppid=,stat=,command= -p <pid>` (no /proc here). ps
// exits 1 and prints nothing for a pid that does not exist.
func inspect(ctx context.Context, pid int) (Process, error) {
	out, stderr, code, err := runPS(ctx, "ps", "-o", "ppid=,stat=,command=", "-p", strconv.Itoa(pid))
	if err != nil {
		return Process{}, fmt.Errorf("running ps: %w", err)
	}
	if strings.TrimSpace(out) == "" {
		if code == 0 || code == 1 {
			return Process{}, ErrNoProcess
		}
		return Process{}, fmt.Errorf("ps -p %d: exit %d: %s", pid, code, strings.TrimSpace(stderr))
	}
	p, err := parsePS(pid, out)
	if err != nil {
		return Process{}, fmt.Errorf("reading ps -p %d: %w", pid, err)
	}
	return p, nil
}
