package cli

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/origin"
)

const exposeUsage = `usage: parachute expose tailnet [off]
       parachute expose public  [off]
       parachute expose public --cloudflare --domain <hostname> [--tunnel-name <name>]
run ` + "`parachute expose --help`" + ` for details`

const exposeHelp = `parachute expose — reach this hub from your other devices

USAGE
  parachute expose tailnet [off]        Tailscale Serve: devices on your tailnet
  parachute expose public [off]         the public internet (picks a provider)
  parachute expose public --tailnet     Tailscale Funnel, without asking
  parachute expose public --cloudflare --domain <hostname> [--tunnel-name <name>]
                                        Cloudflare Tunnel on your own domain
  parachute expose cloudflare ...       same as public --cloudflare
  parachute expose public --cloudflare off [--tunnel-name <name>]

The whole hub is exposed at "/": it routes to modules itself and answers 404
for modules marked publicExposure "loopback" when a request came through an
exposure. Tailscale and Cloudflare keep separate records, so turning one off
never touches the other.

The Cloudflare connector runs as its own service (systemd or launchd) and
survives reboots. Where there is no service manager (a container, Fly) the
running hub runs it instead: it then lives exactly as long as the hub.
` + "`off`" + ` removes the connector and the DNS record expose routed, through the
Cloudflare API with the token in cert.pem (or CLOUDFLARE_API_TOKEN); a
record that points anywhere but this tunnel is left alone.

FLAGS
  --hub-origin <url>       the origin to record instead of https://<exposed host>
                           (tokens and discovery use it)
  --domain <hostname>      Cloudflare: the hostname to route (a zone on your account)
  --tunnel-name <name>     Cloudflare: the tunnel (default: derived from the hostname)
  --tailnet                public: use Tailscale Funnel (alias --tailscale)
  --cloudflare             public: use Cloudflare Tunnel
  --skip-provider-check    public: use Tailscale Funnel without checking readiness
  --json                   print the result as JSON (for scripts)

After an exposure changes, running modules are restarted through the hub so
they get the new PARACHUTE_HUB_ORIGIN (vault first).

EXIT STATUS
  0 done, or nothing to do; 1 failed or bad arguments (the message says why).
`

// exposeArgs is a parsed `parachute expose` command line.
type exposeArgs struct {
	layer, mode                   string // "tailnet"|"public", ""|"off"
	hubOrigin, domain, tunnelName string
	cloudflare, tailnet, skip     bool
	json                          bool
}

// exposeCommand is `parachute expose`. It parses its own arguments: the
// reference's dispatch order (lifecycle.md §1.3) decides which error wins,
// and urfave's flag parsing cannot express it.
func exposeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:            "expose",
		Usage:           "reach the hub from other devices (Tailscale, Cloudflare Tunnel)",
		ArgsUsage:       "tailnet|public|cloudflare [off]",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			a, help, err := parseExposeArgs(c.Args().Slice())
			if help {
				e.printf("%s", exposeHelp)
				return nil
			}
			if err != nil {
				return err
			}
			return e.runExpose(c.Context, a)
		},
	}
}

func isHelpArg(s string) bool { return s == "--help" || s == "-h" || s == "help" }

// parseExposeArgs applies lifecycle.md §1.3 steps 1–8, with the reference's
// looseness fixed (§9.19): unknown flags and extra words are errors.
func parseExposeArgs(args []string) (a exposeArgs, help bool, err error) {
	var pos []string
	value := func(i *int, arg, name, what string) (string, error) {
		if v, ok := strings.CutPrefix(arg, name+"="); ok {
			if v == "" {
				return "", fail(ExitFail, "parachute expose: %s requires %s", name, what)
			}
			return v, nil
		}
		if *i+1 >= len(args) || strings.HasPrefix(args[*i+1], "--") || args[*i+1] == "" {
			return "", fail(ExitFail, "parachute expose: %s requires %s", name, what)
		}
		*i++
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		flag, _, _ := strings.Cut(arg, "=")
		switch {
		case isHelpArg(arg):
			return a, true, nil
		case flag == "--hub-origin":
			if a.hubOrigin, err = value(&i, arg, flag, "a URL argument"); err != nil {
				return a, false, err
			}
		case flag == "--domain":
			if a.domain, err = value(&i, arg, flag, "a hostname argument"); err != nil {
				return a, false, err
			}
		case flag == "--tunnel-name":
			if a.tunnelName, err = value(&i, arg, flag, "a name argument"); err != nil {
				return a, false, err
			}
		case arg == "--cloudflare":
			a.cloudflare = true
		case arg == "--tailnet" || arg == "--tailscale":
			a.tailnet = true
		case arg == "--skip-provider-check":
			a.skip = true
		case arg == "--json":
			a.json = true
		case strings.HasPrefix(arg, "-"):
			return a, false, fail(ExitFail, "parachute expose: unknown flag %q\n%s", arg, exposeUsage)
		default:
			pos = append(pos, arg)
		}
	}
	if a.hubOrigin != "" {
		if err := origin.Validate(a.hubOrigin); err != nil {
			return a, false, fail(ExitFail, "parachute expose: --hub-origin: %v", err)
		}
		a.hubOrigin = origin.Normalize(a.hubOrigin)
	}
	if a.tailnet && a.cloudflare {
		return a, false, fail(ExitFail, "parachute expose: --tailnet and --cloudflare are mutually exclusive. Pick one.")
	}
	if len(pos) > 0 {
		a.layer = pos[0]
	}
	if len(pos) > 1 {
		a.mode = pos[1]
	}
	if a.layer == "cloudflare" {
		a.layer, a.cloudflare = "public", true
	}
	if a.layer != "tailnet" && a.layer != "public" {
		return a, false, fail(ExitFail, "parachute expose: unknown layer %q\n%s", a.layer, exposeUsage)
	}
	if a.mode != "" && a.mode != "off" {
		return a, false, fail(ExitFail, "parachute expose %s: unknown argument %q\nusage: parachute expose %s [off]", a.layer, a.mode, a.layer)
	}
	if len(pos) > 2 {
		return a, false, fail(ExitFail, "parachute expose %s: unexpected argument %q\nusage: parachute expose %s [off]", a.layer, pos[2], a.layer)
	}
	if a.tailnet && a.layer == "tailnet" {
		return a, false, fail(ExitFail, "parachute expose: --tailnet pins the public layer to Tailscale Funnel; it doesn't apply to `expose tailnet`.")
	}
	if a.cloudflare && a.layer != "public" {
		return a, false, fail(ExitFail, "parachute expose: --cloudflare only applies to `public` (it's a public-internet path).")
	}
	if (a.domain != "" || a.tunnelName != "") && !a.cloudflare && a.mode != "off" {
		// The reference drops them silently on the auto-pick path (§1.3 step 11).
		return a, false, fail(ExitFail, "parachute expose: --domain and --tunnel-name go with --cloudflare (e.g. parachute expose public --cloudflare --domain %s)", orExample(a.domain))
	}
	return a, false, nil
}

func orExample(d string) string {
	if d == "" {
		return "hub.example.com"
	}
	return d
}

// cloudflareDomainRequired is the reference's block for --cloudflare
// without --domain on a non-TTY (§1.3 step 8).
func cloudflareDomainRequired() error {
	return fail(ExitFail, "%s", strings.Join([]string{
		"parachute expose public --cloudflare: --domain <hostname> is required.",
		"Example: parachute expose public --cloudflare --domain vault.example.com",
		"The hostname's zone must be on your Cloudflare account (https://dash.cloudflare.com → Add site).",
		"No domain? Tailscale Funnel gives you a *.ts.net URL: parachute expose public --tailnet",
	}, "\n"))
}
