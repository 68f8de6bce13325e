package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/unit"
)

func unitCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "unit",
		Usage: "print the hub's service unit as it would be installed here",
		Subcommands: []*cli.Command{{
			Name:      "render",
			Usage:     "render systemd (system unit), systemd-user or launchd",
			ArgsUsage: "systemd|systemd-user|launchd",
			Description: `Prints the unit file (or plist) for this binary, this user and this config
root — the same text ` + "`parachute init`" + ` installs.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "user", Usage: "account the system unit runs as (default: $SUDO_USER, else you)"},
				&cli.StringFlag{Name: "home", Usage: "config root to bake in as PARACHUTE_HOME (default: $PARACHUTE_HOME, else ~/.parachute)"},
			},
			Action: func(c *cli.Context) error {
				if c.Args().Len() != 1 {
					return fail(ExitUsage, "usage: parachute unit render systemd|systemd-user|launchd [--user U] [--home DIR]")
				}
				opts, err := unit.DetectHubOptions(c.String("user"), c.String("home"))
				if err != nil {
					return fail(ExitFail, "parachute unit render: %v", err)
				}
				out, err := unit.RenderKind(c.Args().First(), opts)
				if err != nil {
					return fail(ExitUsage, "parachute unit render: %v", err)
				}
				_, err = e.stdout.Write(out)
				return err
			},
		}},
	}
}
