// Package envshim lets the parachute binary stand in for /usr/bin/env in
// the container image, which has no coreutils. Package managers link a
// module's commands (parachute-vault, …) as scripts starting with
// "#!/usr/bin/env bun" or "#!/usr/bin/env node"; the kernel runs
// /usr/bin/env with the interpreter's name and the script, and without an
// env the supervisor's exec fails with ENOENT. The image links /usr/bin/env
// to /usr/bin/parachute, and main hands argv to Exec when it is invoked as
// "env". Only what shebang lines use is supported: NAME=VALUE assignments,
// -S (split one argument on spaces), "--" and the command; anything else is
// refused rather than half-understood.
package envshim

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Exit codes of env(1): the command was found but could not run (126), or
// was not found (127); 125 is env's own usage error.
const (
	ExitUsage       = 125
	ExitCannotRun   = 126
	ExitNotFound    = 127
	shimName        = "env"
	maxSplitArgs    = 64
	assignSeparator = "="
)

// ErrUsage means arguments this env does not support.
var ErrUsage = errors.New("unsupported env usage")

// Invoked reports whether argv0 asks for the env shim.
func Invoked(argv0 string) bool { return filepath.Base(argv0) == shimName }

// Parse turns env's arguments (without argv0) into the environment
// assignments and the command line to run.
func Parse(args []string) (assign, cmd []string, err error) {
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--":
			return assign, args[1:], nil
		case strings.HasPrefix(a, "-S"):
			// A shebang passes everything after "env" as one argument,
			// so "-S bun --smol" arrives as "-S bun --smol" or, with -S
			// alone, as the next argument.
			rest := strings.TrimSpace(strings.TrimPrefix(a, "-S"))
			args = args[1:]
			if rest == "" {
				if len(args) == 0 {
					return nil, nil, fmt.Errorf("%w: -S needs a string", ErrUsage)
				}
				rest, args = args[0], args[1:]
			}
			split := strings.Fields(rest)
			if len(split) > maxSplitArgs {
				return nil, nil, fmt.Errorf("%w: -S string has more than %d words", ErrUsage, maxSplitArgs)
			}
			args = append(split, args...)
		case strings.HasPrefix(a, "-"):
			return nil, nil, fmt.Errorf("%w: option %q (this env only supports NAME=VALUE, -S and --)", ErrUsage, a)
		case strings.Contains(a, assignSeparator) && !strings.HasPrefix(a, assignSeparator):
			assign = append(assign, a)
			args = args[1:]
		default:
			return assign, args, nil
		}
	}
	return assign, nil, nil
}

// Exec runs env's arguments: it replaces this process with the command,
// found on PATH, with the assignments added to the environment. It returns
// only on failure, with env(1)'s exit code. With no command it returns
// the environment to print.
func Exec(args []string) (code int, printEnv []string, err error) {
	assign, cmd, err := Parse(args)
	if err != nil {
		return ExitUsage, nil, err
	}
	env := append(os.Environ(), assign...)
	if len(cmd) == 0 {
		return 0, env, nil
	}
	for _, kv := range assign {
		// Before the lookup: `env PATH=… cmd` searches the new PATH.
		if k, v, _ := strings.Cut(kv, assignSeparator); k == "PATH" {
			os.Setenv("PATH", v)
		}
	}
	path, err := exec.LookPath(cmd[0])
	if err != nil {
		return ExitNotFound, nil, fmt.Errorf("%s: %w", cmd[0], err)
	}
	err = syscall.Exec(path, cmd, env)
	return ExitCannotRun, nil, fmt.Errorf("running %s: %w", path, err)
}
