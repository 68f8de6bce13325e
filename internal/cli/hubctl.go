package cli

import (
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
)

// ensureHub makes sure the hub answers /health before a module verb.
func ensureHub(e *env, c *cli.Context, paths config.Paths) error {
	client := hubclient.New(paths)
	return fail(ExitFail, "✗ the hub is not running at %s (from %s).\n  Start it with `parachute serve` (foreground) or install it as a service with `parachute init`.", client.Base, client.BaseFrom)
}

// hubVerb starts, stops or restarts the hub itself through the service manager.
func hubVerb(e *env, c *cli.Context, paths config.Paths, op string) error {
	return fail(ExitFail, "✗ parachute %s hub: no hub unit is managed here yet.\n  Run `parachute serve` in the foreground (Ctrl-C stops it).", op)
}

// journalLogs shows the hub unit's journal (system unit as root, else the
// user unit).
func journalLogs(e *env, c *cli.Context, n int, follow bool) error {
	bin, err := exec.LookPath("journalctl")
	if err != nil {
		return fail(ExitFail, "parachute logs hub: no hub log file and no journalctl here.\n  When the hub runs in the foreground (`parachute serve`), its output is on that terminal.")
	}
	args := []string{"-u", "parachute-hub.service", "-n", strconv.Itoa(n), "--no-pager", "-o", "short-iso"}
	if os.Geteuid() != 0 {
		args = append([]string{"--user"}, args...)
	}
	if follow {
		args = append(args, "-f")
	}
	cmd := exec.CommandContext(c.Context, bin, args...)
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	if err := cmd.Run(); err != nil && c.Context.Err() == nil {
		return fail(ExitFail, "parachute logs hub: journalctl %s: %v", strings.Join(args, " "), err)
	}
	return nil
}
