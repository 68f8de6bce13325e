// Package cli is the parachute command line: it parses arguments, calls
// the domain packages (hub, hubclient, servicemgr, …) and prints. It is the
// only package that writes to the terminal or decides exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/buildinfo"
	"github.com/openparachute/parachute/internal/config"
)

// Exit codes, a documented protocol for scripts and service managers.
const (
	ExitOK     = 0
	ExitFail   = 1  // the verb could not do what was asked; the message says why
	ExitUsage  = 2  // bad arguments
	ExitConfig = 78 // EX_CONFIG: configuration a restart cannot fix (the unit's RestartPreventExitStatus)
	// ExitInterrupted is the shell's code for a command ended by SIGINT
	// (128+2): a verb stopped by Ctrl-C or SIGTERM (ctx cancelled) exits
	// with it, after its deferred clean-up ran.
	ExitInterrupted = 130
)

// exitError carries an exit code and an already-formatted message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// fail returns an error that exits with code after printing msg.
func fail(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// silent exits with code without printing anything more (the verb already
// printed its own explanation).
func silent(code int) error { return &exitError{code: code} }

// env is what every command gets: where to print, and the config root.
type env struct {
	stdout, stderr io.Writer
}

func (e *env) paths() (config.Paths, error) { return config.Load() }

// getenv is os.Getenv, named for passing as a lookup function.
var getenv = os.Getenv

func (e *env) printf(format string, args ...any) { fmt.Fprintf(e.stdout, format, args...) }
func (e *env) eprintf(format string, args ...any) {
	fmt.Fprintf(e.stderr, format, args...)
}

// Main runs the CLI with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	app := newApp(e)
	err := app.RunContext(ctx, append([]string{"parachute"}, permuteFlags(args)...))
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil {
		// Whatever the verb made of its cancelled context, the cause is
		// the interrupt; say so rather than "context canceled".
		fmt.Fprintln(stderr, "parachute: interrupted")
		return ExitInterrupted
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, ee.msg)
		}
		return ee.code
	}
	// urfave/cli's own parse errors (unknown flag, bad value).
	fmt.Fprintf(stderr, "parachute: %v\nRun `parachute --help` for usage.\n", err)
	return ExitUsage
}

func newApp(e *env) *cli.App {
	bi := buildinfo.Get()
	app := &cli.App{
		Name:                 "parachute",
		Usage:                "run and manage your local Parachute modules",
		Version:              bi.Version,
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		EnableBashCompletion: true,
		// urfave's own --version prints "parachute version X" through a
		// package-level printer; ours is the same output as `parachute version`.
		HideVersion: true,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "version", Aliases: []string{"v"},
			Usage: "print the version, like the version command", DisableDefaultText: true}},
		ExitErrHandler: func(*cli.Context, error) {}, // Main decides exit codes
		Commands: []*cli.Command{
			serveCommand(e),
			initCommand(e),
			statusCommand(e),
			installCommand(e),
			uninstallCommand(e),
			upgradeCommand(e),
			startCommand(e),
			stopCommand(e),
			restartCommand(e),
			logsCommand(e),
			authCommand(e),
			migrateCommand(e),
			doctorCommand(e),
			exposeCommand(e),
			unitCommand(e),
			versionCommand(e),
			vaultCommand(e),
			healthCommand(e),
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(e.stderr, "parachute: unknown command %q. Run `parachute --help` for the list of commands.\n", name)
		},
		OnUsageError: func(c *cli.Context, err error, isSub bool) error {
			return fail(ExitUsage, "parachute: %v\nRun `%s --help` for usage.", err, commandPath(c))
		},
	}
	app.Action = func(c *cli.Context) error {
		if c.Bool("version") {
			return printVersion(e, false)
		}
		if c.Args().Len() > 0 {
			return fail(ExitUsage, "parachute: unknown command %q. Run `parachute --help` for the list of commands.", c.Args().First())
		}
		return cli.ShowAppHelp(c)
	}
	setUsageError(app.Commands, app.OnUsageError)
	return app
}

// setUsageError gives every command and sub-command without its own the
// app's usage-error handler (one hint line, not urfave's help dump), and
// every command group (auth, unit, …) an action that refuses an unknown
// sub-command with exit 2: urfave/cli alone prints "unknown command" and
// exits 0, which a script cannot tell from success.
func setUsageError(cmds []*cli.Command, h cli.OnUsageErrorFunc) {
	for _, cmd := range cmds {
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = h
		}
		if len(cmd.Subcommands) > 0 && cmd.Action == nil {
			cmd.Action = groupAction
		}
		setUsageError(cmd.Subcommands, h)
	}
}

// groupAction runs for a command group given no known sub-command: help
// when none was named, exit 2 with usage when an unknown one was.
func groupAction(c *cli.Context) error {
	if c.Args().Len() == 0 {
		return cli.ShowSubcommandHelp(c)
	}
	var names []string
	for _, sub := range c.Command.Subcommands {
		if !sub.Hidden && sub.Name != "help" {
			names = append(names, sub.Name)
		}
	}
	return fail(ExitUsage, "%s: unknown command %q (commands: %s). Run `%s --help` for usage.",
		commandPath(c), c.Args().First(), strings.Join(names, ", "), commandPath(c))
}

// commandPath is the command line that names c's command, e.g.
// "parachute auth rotate-operator", or "parachute" at the root (where
// urfave names the root command after the app, hence no Name append).
func commandPath(c *cli.Context) string {
	if c.Command == nil || c.Command.HelpName == "" || c.Command.Name == c.App.Name {
		return c.App.Name
	}
	return c.Command.HelpName
}

// valueFlags are the flags that take a value, so permuteFlags knows not to
// treat the value as a positional argument.
var valueFlags = map[string]bool{
	"-n": true, "--lines": true, "--port": true, "--bind": true, "--scope-set": true,
	"--user": true, "--home": true, "--channel": true, "--tag": true, "--hub-origin": true, "--from": true,
	"--scope": true, "--aud": true, "--expires-in": true, "--sub": true, "--permissions": true, // auth mint-token
	"--username": true, "--password": true,
	"--domain": true, "--tunnel-name": true,
	"--vault-name":      true,                       // install
	"--scribe-provider": true, "--scribe-key": true, // install scribe
}

// permuteFlags moves flags that follow a verb's positional arguments in
// front of them, so `parachute logs vault -f` works like `logs -f vault`
// (urfave/cli stops parsing flags at the first positional). Everything after
// a literal "--" is left alone.
func permuteFlags(args []string) []string {
	if len(args) < 2 || args[0] == "vault" { // vault's arguments belong to parachute-vault, verbatim
		return args
	}
	// Find the verb path: leading non-flag words that name commands. We only
	// permute what follows the first word (and a second for `auth x`).
	head := 1
	if args[0] == "auth" || args[0] == "unit" || args[0] == "migrate" {
		if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
			head = 2
		}
	}
	var flags, pos []string
	rest := args[head:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			if valueFlags[a] && !strings.Contains(a, "=") && i+1 < len(rest) {
				flags = append(flags, rest[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	out := append([]string{}, args[:head]...)
	out = append(out, flags...)
	return append(out, pos...)
}

// rootErr wraps config-root errors for printing.
func rootErr(err error) error {
	return fail(ExitFail, "parachute: %v", err)
}
