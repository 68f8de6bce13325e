package cli

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/hubclient"
)

// mintTokenCommand is `parachute auth mint-token`: the running hub mints
// the token (so it carries the issuer modules pin) and stdout gets only
// the token, for `TOKEN=$(parachute auth mint-token ...)`.
func mintTokenCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "mint-token",
		Usage:     "mint a token for a module or a script (prints only the token)",
		ArgsUsage: " ",
		Description: `Asks the running hub to mint a token with the operator token. The audience
defaults to the scope's module (vault:<name>:<verb> → vault.<name>). The token
is recorded in the hub's token registry, so it can be revoked, unless
--ephemeral (one hour, unrecorded).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "scope", Usage: "space-separated scopes, e.g. vault:default:read"},
			&cli.StringFlag{Name: "aud", Usage: "audience (default: inferred from the scope)"},
			&cli.BoolFlag{Name: "ephemeral", Usage: "one hour, not recorded in the token registry"},
			&cli.Int64Flag{Name: "expires-in", Usage: "lifetime in seconds (default 90 days, at most 365 days)"},
			&cli.StringFlag{Name: "sub", Usage: "subject (default: the operator's)"},
			&cli.StringFlag{Name: "permissions", Usage: "a JSON object carried as the permissions claim"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fail(ExitUsage, "parachute auth mint-token: unexpected argument %q — run `parachute auth mint-token --help` for usage", c.Args().First())
			}
			// Checked here rather than with Required: urfave would print
			// the help on stdout, which scripts capture as the token.
			if strings.TrimSpace(c.String("scope")) == "" {
				return fail(ExitUsage, "parachute auth mint-token: --scope is required, e.g. --scope vault:default:read")
			}
			// Refused here as well as by the hub: the hub's refusal is
			// phrased for any bearer, and its hint (a token with more
			// authority) cannot help with a scope nobody may mint.
			for _, sc := range strings.Fields(c.String("scope")) {
				if strings.HasPrefix(sc, "parachute:host:") {
					return fail(ExitUsage, "parachute auth mint-token: %s is never mintable: parachute:host:* scopes live only in the operator token "+
						"(`parachute auth rotate-operator --scope-set <set>` mints that); mint a module scope such as vault:default:read", sc)
				}
			}
			if c.Bool("ephemeral") && c.IsSet("expires-in") {
				return fail(ExitUsage, "parachute auth mint-token: --ephemeral and --expires-in exclude each other")
			}
			if c.IsSet("expires-in") && c.Int64("expires-in") <= 0 {
				return fail(ExitUsage, "parachute auth mint-token: --expires-in must be a positive number of seconds")
			}
			req := api.MintTokenRequest{Scope: c.String("scope"), Audience: c.String("aud"), ExpiresIn: c.Int64("expires-in"),
				Subject: c.String("sub"), Ephemeral: c.Bool("ephemeral")}
			if p := c.String("permissions"); p != "" {
				var obj map[string]any
				if err := json.Unmarshal([]byte(p), &obj); err != nil || obj == nil {
					return fail(ExitUsage, "parachute auth mint-token: --permissions must be a JSON object, e.g. '{\"tags\":[\"work\"]}'")
				}
				req.Permissions = json.RawMessage(p)
			}
			paths, err := e.paths()
			if err != nil {
				return rootErr(err)
			}
			resp, err := hubclient.New(paths).MintToken(c.Context, req)
			if err != nil {
				return mintError(err)
			}
			e.printf("%s\n", resp.Token)
			return nil
		},
	}
}

// mintError says what to do about a refused mint.
func mintError(err error) error {
	var he *hubclient.HTTPError
	switch {
	case errors.Is(err, hubclient.ErrHubNotRunning):
		return fail(ExitFail, "✗ mint-token: %v — the hub mints tokens; start it with `parachute start`", err)
	case !errors.As(err, &he):
		return fail(ExitFail, "✗ mint-token: %v", err)
	case he.Status == http.StatusUnauthorized:
		return fail(ExitFail, "✗ mint-token: %s\n  If the token is stale, run `parachute auth rotate-operator`.", he.Description)
	case he.Code == api.CodeInvalidScope || he.Code == api.CodeInsufficientScope:
		return fail(ExitFail, "✗ mint-token: %s\n  Mint with an operator token that holds the authority (`parachute auth rotate-operator --scope-set auth`).",
			strings.TrimSpace(he.Description))
	}
	return fail(ExitFail, "✗ mint-token: %s", he.Description)
}
