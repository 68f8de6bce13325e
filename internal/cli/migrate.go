package cli

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/migrate"
)

func migrateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "move this box to the supervised hub unit (--to-supervised) or remove the unit (--teardown)",
		Description: `--to-supervised: the ordered cutover from the legacy detached model. Writes
the hub unit without starting it, stops the legacy hub and modules by their
pidfiles, frees declared ports only from our own processes (an unrelated
program is never killed), verifies the ports are free, starts the unit and
verifies the hub and its modules. Idempotent; re-run it after a failure.

--teardown: disable, stop and remove the hub unit. Idempotent.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "to-supervised", Usage: "cut over to the supervised hub unit"},
			&cli.BoolFlag{Name: "teardown", Usage: "remove the hub unit"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fail(ExitUsage, "parachute migrate: unexpected argument %q", c.Args().First())
			}
			paths, err := e.paths()
			if err != nil {
				return rootErr(err)
			}
			ctl, err := newController(e, paths)
			if err != nil {
				return fail(ExitFail, "✗ %v", err)
			}
			switch {
			case c.Bool("to-supervised") && c.Bool("teardown"):
				return fail(ExitUsage, "parachute migrate: choose one of --to-supervised and --teardown")
			case c.Bool("teardown"):
				removed, err := ctl.Teardown(c.Context)
				if err != nil {
					return fail(ExitFail, "✗ removing the hub unit: %v", err)
				}
				if !removed {
					e.printf("No hub unit was installed — nothing to tear down.\n")
					return nil
				}
				e.printf("Removed %s unit %s — the hub no longer starts on boot.\n\n", ctl.Mgr.Kind(), ctl.UnitName())
				e.printf("The supervised hub unit is gone. To run the hub now, either:\n  - `parachute serve` (foreground), or\n  - `parachute migrate --to-supervised` to reinstall the unit.\n")
				return nil
			case c.Bool("to-supervised"):
				cut := &migrate.Cutover{Paths: paths, Ctl: ctl, HubPort: hubPort(paths),
					Logf:    func(f string, a ...any) { e.printf(f+"\n", a...) },
					Modules: moduleReadiness(paths)}
				out, err := cut.Run(c.Context)
				switch out {
				case migrate.AlreadyMigrated:
					e.printf("✓ Already migrated — a supervised hub unit is installed and healthy.\n")
					return nil
				case migrate.Migrated:
					e.printf("✓ Migrated to the supervised model.\n  The hub now starts on boot and restarts on failure; modules run as its children.\n" +
						"  Per-module verbs (`parachute start|stop|restart <module>`) drive the running hub.\n")
					return nil
				}
				return fail(ExitFail, "✗ migrate --to-supervised: %s: %v%s", out, err, journalOf(err))
			}
			return fail(ExitUsage, "parachute migrate: say what to do: --to-supervised (install and cut over to the hub unit) or --teardown (remove it).\n"+
				"(The reference hub's archive sweep of legacy files is not part of this version.)")
		},
	}
}

// moduleReadiness reads the hub's module states for the cutover's final
// check: short → "ready", or the supervisor status.
func moduleReadiness(p config.Paths) func(ctx context.Context) (map[string]string, error) {
	return func(ctx context.Context) (map[string]string, error) {
		mods, err := hubclient.New(p).Modules(ctx)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, m := range mods.Modules {
			switch {
			case m.Ready:
				out[m.Short] = "ready"
			case m.SupervisorStatus != nil:
				out[m.Short] = *m.SupervisorStatus
			}
		}
		return out, nil
	}
}
