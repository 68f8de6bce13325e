package servicemgr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// ExecRunner is the Runner that runs real programs with os/exec. The child
// gets no stdin and the caller's environment.
func ExecRunner(ctx context.Context, name string, args ...string) (stdout, stderr string, code int, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0 && ctx.Err() == nil:
		return out.String(), errb.String(), exitErr.ExitCode(), nil
	}
	return out.String(), errb.String(), -1, fmt.Errorf("running %s: %w", name, err)
}
