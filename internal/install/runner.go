package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Cmd is one external program run by the installer (bun, npm, git).
type Cmd struct {
	// Dir is the working directory; "" means the current one.
	Dir string
	// Env is the complete environment; nil means the installer's own.
	Env []string
	// Name is the program (a path, or a name looked up on PATH).
	Name string
	// Args are the arguments after Name.
	Args []string
}

// String renders the command line for messages.
func (c Cmd) String() string {
	return strings.TrimSpace(c.Name + " " + strings.Join(c.Args, " "))
}

// Runner runs a program to completion and returns its output and exit
// code. The output is the program's stdout alone when it exits 0 (callers
// parse it: `npm root -g`, `git rev-parse HEAD`), and stdout followed by
// stderr when it exits non-zero (for the error message). err is set only
// when the program could not be started or waited for (not found, context
// cancelled); a non-zero exit is reported through code, never through err.
type Runner func(ctx context.Context, c Cmd) (output []byte, code int, err error)

// ExecRunner is the real Runner: os/exec with stdin closed and stdout and
// stderr captured apart. Why apart: npm and git print warnings on stderr
// ("npm warn config ...", "warning: unable to access ~/.config/git")
// while succeeding; mixed into stdout they became part of the npm root
// or made a clean checkout look dirty.
func ExecRunner(ctx context.Context, c Cmd) ([]byte, int, error) {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		out.Write(errOut.Bytes())
		return out.Bytes(), ee.ExitCode(), nil
	}
	if err != nil {
		out.Write(errOut.Bytes())
		return out.Bytes(), -1, fmt.Errorf("running %s: %w", c, err)
	}
	return out.Bytes(), 0, nil
}

// CmdError is a program that ran and exited non-zero. Its message ends
// with the tail of the program's output, where the reason usually is.
type CmdError struct {
	Cmd    Cmd
	Code   int
	Output []byte
}

func (e *CmdError) Error() string {
	msg := fmt.Sprintf("%s exited %d", e.Cmd, e.Code)
	if tail := Tail(e.Output, 15); tail != "" {
		msg += ":\n" + tail
	}
	return msg
}

// Tail returns the last n non-empty lines of output, each indented by two
// spaces, for error messages.
func Tail(output []byte, n int) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(output), "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, "  "+strings.TrimRight(l, "\r"))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// run runs c and turns a non-zero exit into a *CmdError.
func (in *Installer) run(ctx context.Context, c Cmd) ([]byte, error) {
	if c.Env == nil {
		c.Env = in.environ()
	}
	out, code, err := in.runner(ctx, c)
	if err != nil {
		return out, err
	}
	if code != 0 {
		return out, &CmdError{Cmd: c, Code: code, Output: out}
	}
	return out, nil
}
