package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/hubclient"
)

// The token registry and OAuth client/grant verbs of `parachute auth`.
// Each asks the running hub with the operator token (internal/hubclient),
// like mint-token, so the hub stays the one writer of hub.db's registry.

func authRegistryCommands(e *env) []*cli.Command {
	return []*cli.Command{
		{
			Name:      "revoke-token",
			Usage:     "revoke a token by its jti (idempotent)",
			ArgsUsage: "<jti>",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "break-glass",
				Usage: "revoke even the live operator token (the CLI's module verbs then fail until `parachute auth rotate-operator`)"}},
			Action: registryVerb(e, "revoke-token", 1, func(ctx context.Context, hc *hubclient.Client, c *cli.Context) error {
				resp, err := hc.RevokeToken(ctx, c.Args().First(), c.Bool("break-glass"))
				if err != nil {
					return err
				}
				e.printf("✓ revoked %s at %s\n", resp.JTI, resp.RevokedAt)
				return nil
			}),
		},
		{
			Name:      "list-tokens",
			Usage:     "list the token registry (never the tokens themselves)",
			ArgsUsage: " ",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "revoked", Usage: "only revoked tokens"},
				&cli.BoolFlag{Name: "live", Usage: "only tokens not revoked"},
				&cli.StringFlag{Name: "subject", Usage: "only tokens with this subject"},
				&cli.StringFlag{Name: "created-via", Usage: "only tokens created this way (cli_mint, operator_mint, ...)"},
			},
			Action: registryVerb(e, "list-tokens", 0, func(ctx context.Context, hc *hubclient.Client, c *cli.Context) error {
				q := url.Values{}
				switch {
				case c.Bool("revoked") && c.Bool("live"):
					return fail(ExitUsage, "parachute auth list-tokens: --revoked and --live exclude each other")
				case c.Bool("revoked"):
					q.Set("revoked", "true")
				case c.Bool("live"):
					q.Set("revoked", "false")
				}
				if v := c.String("subject"); v != "" {
					q.Set("subject", v)
				}
				if v := c.String("created-via"); v != "" {
					q.Set("created_via", v)
				}
				var rows [][]string
				for {
					page, err := hc.Tokens(ctx, q)
					if err != nil {
						return err
					}
					for _, t := range page.Tokens {
						rows = append(rows, safeCells(t.JTI, deref(t.Subject, deref(t.UserID, "-")), t.ClientID, strings.Join(t.Scopes, " "),
							t.ExpiresAt, deref(t.RevokedAt, "-")))
					}
					if page.NextCursor == nil {
						break
					}
					q.Set("cursor", *page.NextCursor)
				}
				if len(rows) == 0 {
					e.printf("no tokens in the registry\n")
					return nil
				}
				writeTable(e.stdout, []string{"JTI", "SUBJECT", "CLIENT", "SCOPES", "EXPIRES", "REVOKED"}, rows, nil)
				return nil
			}),
		},
		{
			Name:      "pending-clients",
			Usage:     "list OAuth clients waiting for approval",
			ArgsUsage: " ",
			Action: registryVerb(e, "pending-clients", 0, func(ctx context.Context, hc *hubclient.Client, c *cli.Context) error {
				resp, err := hc.Clients(ctx, "pending")
				if err != nil {
					return err
				}
				if len(resp.Clients) == 0 {
					e.printf("no pending clients\n")
					return nil
				}
				var rows [][]string
				for _, cl := range resp.Clients {
					rows = append(rows, safeCells(cl.ClientID, deref(cl.ClientName, "-"), strings.Join(cl.RedirectURIs, " "), cl.RegisteredAt))
				}
				writeTable(e.stdout, []string{"CLIENT_ID", "NAME", "REDIRECT_URIS", "REGISTERED"}, rows, nil)
				e.printf("Approve one with `parachute auth approve-client <client_id>`.\n")
				return nil
			}),
		},
		{
			Name:      "approve-client",
			Usage:     "approve a pending OAuth client",
			ArgsUsage: "<client_id>",
			Action: registryVerb(e, "approve-client", 1, func(ctx context.Context, hc *hubclient.Client, c *cli.Context) error {
				if err := hc.ApproveClient(ctx, c.Args().First()); err != nil {
					return err
				}
				e.printf("✓ approved client %s\n", c.Args().First())
				return nil
			}),
		},
		{
			Name:      "list-grants",
			Usage:     "list the consent grants users gave OAuth clients",
			ArgsUsage: " ",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "username", Usage: "only this user's grants"}},
			Action: registryVerb(e, "list-grants", 0, func(ctx context.Context, hc *hubclient.Client, c *cli.Context) error {
				resp, err := hc.Grants(ctx, c.String("username"))
				if err != nil {
					return err
				}
				if len(resp.Grants) == 0 {
					e.printf("no grants\n")
					return nil
				}
				var rows [][]string
				for _, g := range resp.Grants {
					user := g.Username
					if user == "" {
						user = g.UserID
					}
					rows = append(rows, safeCells(user, g.ClientID, deref(g.ClientName, "-"), strings.Join(g.Scopes, " "), g.GrantedAt))
				}
				writeTable(e.stdout, []string{"USER", "CLIENT_ID", "CLIENT", "SCOPES", "GRANTED"}, rows, nil)
				return nil
			}),
		},
		{
			Name:      "revoke-grant",
			Usage:     "remove a client's grant and revoke its tokens",
			ArgsUsage: "<client_id>",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "username", Usage: "only this user's grant (default: every user's)"}},
			Action: registryVerb(e, "revoke-grant", 1, func(ctx context.Context, hc *hubclient.Client, c *cli.Context) error {
				if err := hc.RevokeGrant(ctx, c.Args().First(), c.String("username")); err != nil {
					return err
				}
				e.printf("✓ revoked the grant of %s and its tokens\n", c.Args().First())
				return nil
			}),
		},
	}
}

// registryVerb wraps a verb that talks to the running hub: it checks the
// number of arguments, builds the client and maps the hub's refusals to
// messages that say what to do.
func registryVerb(e *env, name string, nargs int, run func(context.Context, *hubclient.Client, *cli.Context) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() != nargs {
			what := "takes no arguments"
			if nargs == 1 {
				what = "takes exactly one argument"
			}
			return fail(ExitUsage, "parachute auth %s %s — run `parachute auth %s --help` for usage", name, what, name)
		}
		paths, err := e.paths()
		if err != nil {
			return rootErr(err)
		}
		err = run(c.Context, hubclient.New(paths), c)
		var ee *exitError
		if err == nil || errors.As(err, &ee) {
			return err
		}
		var he *hubclient.HTTPError
		switch {
		case errors.Is(err, hubclient.ErrHubNotRunning):
			return fail(ExitFail, "✗ %s: %v — start the hub with `parachute start`", name, err)
		case !errors.As(err, &he):
			return fail(ExitFail, "✗ %s: %v", name, err)
		case he.Status == http.StatusUnauthorized:
			return fail(ExitFail, "✗ %s: %s\n  If the token is stale, run `parachute auth rotate-operator`.", name, he.Description)
		case he.Status == http.StatusForbidden:
			return fail(ExitFail, "✗ %s: %s\n  Use an operator token with the authority (`parachute auth rotate-operator --scope-set admin`).", name, he.Description)
		}
		return fail(ExitFail, "✗ %s: %s", name, he.Description)
	}
}

// safeCells escapes control characters in table cells: client names and
// redirect URIs come from anyone who can reach /oauth/register, and an
// escape sequence in them must not reach the operator's terminal.
func safeCells(cells ...string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		var b bytes.Buffer
		w := newTermSafeWriter(&b)
		_, _ = w.Write([]byte(c))
		_ = w.Flush()
		out[i] = b.String()
	}
	return out
}

func deref(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}
