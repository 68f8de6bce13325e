package cli

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/hubclient"
)

func startCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start a module (or the hub, with no argument or `hub`)",
		ArgsUsage: "[<service>|hub]",
		Description: `With a module name: asks the running hub to start it and waits until it
accepts connections; exits 1 with the reason when it does not come up.
With no argument or "hub": starts the hub through the service manager.`,
		Action: func(c *cli.Context) error { return moduleVerb(e, c, "start") },
	}
}

func stopCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "stop a module (or the hub, with no argument or `hub`)",
		ArgsUsage: "[<service>|hub]",
		Description: `With a module name: SIGTERM to the module's process group, SIGKILL after its
grace period; returns once it has exited. The next hub start runs it again.
With no argument or "hub": stops the hub (and every module) through the
service manager.`,
		Action: func(c *cli.Context) error { return moduleVerb(e, c, "stop") },
	}
}

func restartCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "restart",
		Usage:     "restart a module (or the hub, with no argument or `hub`)",
		ArgsUsage: "[<service>|hub]",
		Description: `With a module name: stops it and starts it again with its current services.json
row and .env (re-read from disk), and waits until it accepts connections.
With no argument or "hub": restarts the hub through the service manager.`,
		Action: func(c *cli.Context) error { return moduleVerb(e, c, "restart") },
	}
}

// moduleVerb runs start/stop/restart for a module through the hub API, or
// for the hub itself through the service manager.
func moduleVerb(e *env, c *cli.Context, op string) error {
	if c.Args().Len() > 1 {
		return fail(ExitUsage, "parachute %s: too many arguments (%d); usage: parachute %s [<service>|hub]", op, c.Args().Len(), op)
	}
	svc := c.Args().First()
	paths, err := e.paths()
	if err != nil {
		return rootErr(err)
	}
	if svc == "" || svc == "hub" {
		return hubVerb(e, c, paths, op)
	}
	if ev := legacyEvidence(paths); ev != "" {
		// A live legacy hub may answer /health, but it is not ours to
		// drive: point at the cutover first.
		ctl, err := newController(e, paths)
		if err != nil {
			return fail(ExitFail, "✗ %v", err)
		}
		return legacyGate(e, paths, ctl)
	}
	client := hubclient.New(paths)
	if _, err := client.Health(c.Context); err != nil {
		if op == "stop" {
			e.printf("✓ %s already stopped (the hub isn't running, so its modules are down).\n", svc)
			return nil
		}
		if err := ensureHub(e, c, paths); err != nil {
			return err
		}
	}
	body, err := client.ModuleOp(c.Context, svc, op)
	if err != nil {
		return moduleOpError(svc, op, body, err)
	}
	for _, w := range body.Warnings {
		e.printf("! %s\n", w)
	}
	switch op {
	case "stop":
		if body.Stopped != nil && !*body.Stopped {
			e.printf("✓ %s was not running.\n", svc)
			return nil
		}
		e.printf("✓ %s stopped.\n", svc)
	case "start":
		e.printf("✓ %s started%s.\n", svc, pidNote(body.State))
	case "restart":
		e.printf("✓ %s restarted%s.\n", svc, pidNote(body.State))
	}
	return nil
}

func pidNote(st *api.State) string {
	if st == nil || st.PID == 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", st.PID)
}

// moduleOpError turns an API failure into a message that says what to run.
func moduleOpError(svc, op string, body *api.StateBody, err error) error {
	var he *hubclient.HTTPError
	if !errors.As(err, &he) {
		return fail(ExitFail, "✗ %s: %v", svc, err)
	}
	switch {
	case he.Code == api.CodeNotInstalled:
		return fail(ExitFail, "✗ %s is not installed — run `parachute install %s` first, then `parachute %s %s`.", svc, svc, op, svc)
	case he.Status == http.StatusUnauthorized:
		return fail(ExitFail, "✗ %s: %s\n  If the token is stale, run `parachute auth rotate-operator`.", svc, he.Description)
	case he.Code == api.CodeMissingDependency || he.Code == api.CodeExitedDuringStart || he.Code == api.CodeNotReady:
		msg := fmt.Sprintf("✗ %s did not start: %s", svc, he.Description)
		return fail(ExitFail, "%s\n  See `parachute logs %s` and `parachute status`.", msg, svc)
	}
	return fail(ExitFail, "✗ %s: %v", svc, err)
}
