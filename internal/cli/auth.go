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
		Usage: "manage the operator token, the hub's users and its signing keys",
		Subcommands: append([]*cli.Command{
			rotateKeyCommand(e),
			mintTokenCommand(e),
			{
				Name:  "rotate-operator",
				Usage: "mint a new operator token (and revoke the old one)",
				Description: `Writes a new token to <root>/operator.token (mode 0600, atomically) and
revokes the previous one. Whoever can read that file is the operator.`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "scope-set", Value: "admin", Usage: "install|start|expose|auth|vault|admin"},
				},
				Action: func(c *cli.Context) error {
					if err := noArgs(c, "rotate-operator"); err != nil {
						return err
					}
					store, paths, err := openAuthStore(e, "rotate-operator")
					if err != nil {
						return err
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
		}, append(append(authUserCommands(e), auth2FACommand(e)), authRegistryCommands(e)...)...),
	}
}

// rotateKeyCommand is `parachute auth rotate-key`: a new active signing key,
// the previous one retired but still published and accepted for
// auth.KeyRetention, so modules with a cached JWKS and tokens already
// handed out keep working through the change.
func rotateKeyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "rotate-key",
		Usage: "generate a new token signing key and retire the current one",
		Description: `Tokens are signed with the new key from now on. The retired key stays in
/.well-known/jwks.json and keeps verifying the tokens it signed for 24 hours,
then it is dropped. A running hub picks the new key up at once.`,
		Action: func(c *cli.Context) error {
			if err := noArgs(c, "rotate-key"); err != nil {
				return err
			}
			store, _, err := openAuthStore(e, "rotate-key")
			if err != nil {
				return err
			}
			defer store.Close()
			k, err := store.RotateSigningKey(c.Context)
			if err != nil {
				return fail(ExitFail, "parachute auth rotate-key: %v", err)
			}
			e.printf("✓ new signing key %s (created %s); the previous key keeps verifying its tokens until %s, then leaves the JWKS.\n",
				k.KID, k.CreatedAt.UTC().Format(time.RFC3339), k.CreatedAt.Add(auth.KeyRetention).UTC().Format(time.RFC3339))
			return nil
		},
	}
}

// openAuthStore opens hub.db under the config root (creating the root when
// missing) for an `auth` verb that signs or rotates with the hub's keys.
func openAuthStore(e *env, verb string) (*auth.Store, config.Paths, error) {
	paths, err := e.paths()
	if err != nil {
		return nil, paths, rootErr(err)
	}
	if err := paths.EnsureRoot(); err != nil {
		return nil, paths, rootErr(err)
	}
	store, err := auth.Open(paths.HubDB())
	if err != nil {
		return nil, paths, fail(ExitFail, "parachute auth %s: opening %s: %v", verb, paths.HubDB(), err)
	}
	return store, paths, nil
}

// noArgs refuses a stray argument to an auth verb that takes none: these
// verbs change keys and tokens, and a typo (`rotate-key now`) must not be
// read as consent to run them.
func noArgs(c *cli.Context, verb string) error {
	if c.NArg() > 0 {
		return fail(ExitUsage, "parachute auth %s takes no arguments (got %q) — run `parachute auth %s --help` for usage",
			verb, c.Args().First(), verb)
	}
	return nil
}
