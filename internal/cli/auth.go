package cli

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
)

func authCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "auth",
		Usage: "manage the operator token",
		Subcommands: []*cli.Command{
			{
				Name:  "rotate-operator",
				Usage: "mint a new operator token (and revoke the old one)",
				Description: `Writes a new token to <root>/operator.token (mode 0600, atomically) and
revokes the previous one. Whoever can read that file is the operator.`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "scope-set", Value: "admin", Usage: "install|start|expose|auth|vault|admin"},
				},
				Action: func(c *cli.Context) error {
					paths, err := e.paths()
					if err != nil {
						return rootErr(err)
					}
					if err := paths.EnsureRoot(); err != nil {
						return rootErr(err)
					}
					store, err := auth.Open(paths.HubDB())
					if err != nil {
						return fail(ExitFail, "parachute auth rotate-operator: opening %s: %v", paths.HubDB(), err)
					}
					defer store.Close()
					issuer := config.ConfiguredIssuer(getenv)
					if issuer == "" {
						base, _ := hubclient.Locate(paths)
						issuer = base
					}
					if _, err := store.RotateOperator(c.Context, paths.OperatorToken(), issuer, c.String("scope-set")); err != nil {
						return fail(ExitFail, "parachute auth rotate-operator: %v", err)
					}
					e.printf("✓ minted a new operator token (%s scopes, expires %s) at %s; the previous one is revoked.\n",
						c.String("scope-set"), time.Now().Add(90*24*time.Hour).UTC().Format("2006-01-02"), paths.OperatorToken())
					return nil
				},
			},
		},
	}
}
