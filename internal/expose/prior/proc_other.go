//go:build !linux

package prior

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/servicemgr"
)

// runPS runs ps through the exec runner (no /proc here).
var runPS = servicemgr.ExecRunner

// inspect asks `ps -o … -p <pid>`. ps exits 1 and prints nothing for a
// pid that does not exist.
func inspect(ctx context.Context, pid int) (Process, error) {
	out, stderr, code, err := runPS(ctx, "ps", "-o", psFormat, "-p", strconv.Itoa(pid))
	if err != nil {
		return Process{}, fmt.Errorf("running ps: %w", err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if line == "" {
		if code == 0 || code == 1 {
			return Process{}, ErrNoProcess
		}
		return Process{}, fmt.Errorf("ps -p %d: exit %d: %s", pid, code, strings.TrimSpace(stderr))
	}
	p, err := parsePS(line)
	if err != nil {
		return Process{}, fmt.Errorf("reading ps -p %d: %w", pid, err)
	}
	if p.PID != pid {
		return Process{}, ErrNoProcess
	}
	return p, nil
}

// list asks `ps -ax -o …` for every process.
func list(ctx context.Context) ([]Process, error) {
	out, stderr, code, err := runPS(ctx, "ps", "-ax", "-o", psFormat)
	if err != nil {
		return nil, fmt.Errorf("running ps: %w", err)
	}
	if code != 0 {
		return nil, fmt.Errorf("ps -ax: exit %d: %s", code, strings.TrimSpace(stderr))
	}
	var ps []Process
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		p, err := parsePS(line)
		if errors.Is(err, ErrNoProcess) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading ps -ax: %w", err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}
