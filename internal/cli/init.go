package cli

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/servicemgr"
)

func initCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "install the hub as a service (systemd/launchd), start it and check it answers",
		Description: `Idempotent front door. Renders the hub unit for this user (a system unit when
run as root), installs and starts it through the service manager, waits for
/health, makes sure the operator token exists and prints the hub URL.
Re-running on a healthy box changes nothing and says so. A hub already run by
a package manager (the deb/rpm unit, brew services, the NixOS module) is
adopted, never duplicated.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "answer yes to every question (non-interactive)"},
			&cli.BoolFlag{Name: "no-expose-prompt", Usage: "do not offer to expose the hub beyond this machine"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fail(ExitUsage, "parachute init: unexpected argument %q", c.Args().First())
			}
			paths, err := e.paths()
			if err != nil {
				return rootErr(err)
			}
			e.printf("Parachute init — getting your hub set up.\n\n")
			ctl, err := newController(e, paths)
			if err != nil {
				return fail(ExitFail, "✗ %v", err)
			}
			if ctl.Mgr.Kind() == servicemgr.KindNone {
				if ctl.Health(c.Context) == nil {
					e.printf("✓ Hub already running at %s (no service manager here: a container or a foreground `parachute serve`).\n", hubclient.New(paths).Base)
					return nil
				}
				return fail(ExitFail, "✗ %v", servicemgr.ErrNoManager)
			}
			// A non-root operator on a box whose hub is a system service:
			// use that hub rather than installing a second one.
			if k := otherScopeUnit(ctl); k == servicemgr.KindSystemdSystem || k == servicemgr.KindLaunchdSystem {
				if ctl.Health(c.Context) == nil {
					e.printf("✓ The hub runs as a system service (%s); using it instead of installing a second hub.\n", k)
					sysToken := config.Paths{Root: config.SystemRoot}.OperatorToken()
					if f, err := os.Open(sysToken); err == nil {
						f.Close()
						e.printf("✓ Operator token at %s.\n", sysToken)
					} else if errors.Is(err, os.ErrPermission) {
						e.printf("⚠ You cannot read the system hub's operator token (%s); module verbs need it.\n"+
							"  Join its group: `sudo usermod -aG parachute $USER`, then log in again.\n", sysToken)
					}
					e.printf("\nHub: %s\n", hubclient.New(paths).Base)
					return nil
				}
				return fail(ExitFail, "✗ The hub is installed as a system service (%s) but is not answering.\n  Start it with `sudo parachute start`, then re-run `parachute init`.", k)
			}
			res, err := ctl.Install(c.Context)
			for _, m := range res.Messages {
				e.printf("  %s\n", m)
			}
			if err != nil {
				return fail(ExitFail, "✗ Hub failed to start: %v%s\n\nTry checking the logs:\n  parachute logs hub", err, journalOf(err))
			}
			base := hubclient.New(paths).Base
			switch {
			case res.Adopted != "":
				e.printf("✓ The hub is managed by %s; adopted it (no second hub installed).\n", res.Adopted)
			case !res.Written && !res.Started:
				e.printf("✓ Hub already installed and running at %s — nothing to change.\n", base)
			case res.Written:
				e.printf("✓ Installed %s unit %s.\n", ctl.Mgr.Kind(), ctl.UnitPath()) // the user-unit test greps this
				e.printf("✓ Hub unit started and answering at %s.\n", base)
			default:
				e.printf("✓ Hub unit started and answering at %s.\n", base)
			}
			tokenNote(e, paths.OperatorToken())
			e.printf("\nHub: %s\nNext: `parachute status`, `parachute install <module>`.\n", base)
			return nil
		},
	}
}

// tokenNote reports the operator token the hub keeps.
func tokenNote(e *env, path string) {
	_, warn, err := auth.ReadTokenFile(path)
	switch {
	case errors.Is(err, config.ErrNoOperatorToken):
		e.printf("⚠ No operator token at %s yet; run `parachute auth rotate-operator` if a command reports it missing.\n", path)
	case errors.Is(err, os.ErrPermission):
		e.printf("⚠ The operator token at %s is not readable by you; module verbs need it (sudo, or membership of its group).\n", path)
	case err != nil:
		e.printf("⚠ Reading the operator token: %v\n", err)
	default:
		e.printf("✓ Operator token at %s.\n", path)
		if warn != "" {
			e.printf("⚠ %s\n", warn)
		}
	}
}
