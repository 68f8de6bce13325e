// Package expose makes the hub reachable from other devices: over the
// tailnet or the public internet with Tailscale Serve/Funnel, or from the
// public internet through a Cloudflare Tunnel whose connector runs as its
// own managed service (reference lifecycle.md §6).
//
// Every external program (tailscale, cloudflared) runs through a Runner
// with an argv slice, never a shell, so tests put recording fakes on PATH
// and assert the exact argv. Progress lines go to a caller-supplied logf;
// the package never prints. What each provider set up is recorded in
// expose-state.json, one record per provider (package state).
package expose

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/servicemgr"
)

// Runner runs a program with an argv slice and returns its output and exit
// code; err is set only when it could not be run. It is servicemgr's
// Runner, so one real implementation (servicemgr.ExecRunner) serves both.
type Runner = servicemgr.Runner

// Logf receives progress lines for the operator.
type Logf func(format string, args ...any)

// ErrNotInstalled means the provider's CLI is not on PATH.
var ErrNotInstalled = errors.New("not installed or not on PATH")

// CommandError is a provider command that exited non-zero.
type CommandError struct {
	Argv   []string
	Code   int
	Stderr string
}

func (e *CommandError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "no output"
	}
	return strings.Join(e.Argv, " ") + ": exit " + strconv.Itoa(e.Code) + ": " + firstLine(msg)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// run runs argv through r and turns a non-zero exit into a *CommandError.
// A program missing from PATH is ErrNotInstalled.
func run(ctx context.Context, r Runner, argv ...string) (string, error) {
	out, stderr, code, err := r(ctx, argv[0], argv[1:]...)
	if err != nil {
		if isNotFound(err) {
			return "", errors.Join(ErrNotInstalled, err)
		}
		return "", err
	}
	if code != 0 {
		return out, &CommandError{Argv: argv, Code: code, Stderr: stderr}
	}
	return out, nil
}

func isNotFound(err error) bool { return errors.Is(err, exec.ErrNotFound) }
