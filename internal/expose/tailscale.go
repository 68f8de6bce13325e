package expose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/expose/state"
)

// Tailscale drives the tailscale CLI.
type Tailscale struct {
	// Run runs tailscale; nil means servicemgr.ExecRunner.
	Run Runner
	// Bin is the program name or path; "" means "tailscale" on PATH.
	Bin string
}

// TSVersion is a tailscale client version.
type TSVersion struct{ Major, Minor, Patch int }

func (v TSVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// atLeast reports whether v >= major.minor.
func (v TSVersion) atLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// FunnelSubcommand reports whether this version takes Funnel as its own
// subcommand (`tailscale funnel --bg ...`). Why the split: tailscale 1.82
// removed `serve --funnel`; before it, Funnel rides on `serve`.
func (v TSVersion) FunnelSubcommand() bool { return v.atLeast(1, 82) }

// minTailscale is the oldest client whose serve CLI takes --bg, --https
// and --set-path (the "serve v2" CLI of 1.52); older ones use a syntax we
// do not speak.
var minTailscale = TSVersion{1, 52, 0}

// ErrTailscaleTooOld means the client predates the serve CLI we use.
var ErrTailscaleTooOld = errors.New("tailscale is too old for `parachute expose`")

func (t *Tailscale) runner() Runner {
	if t.Run != nil {
		return t.Run
	}
	return defaultRunner
}

func (t *Tailscale) bin() string {
	if t.Bin != "" {
		return t.Bin
	}
	return "tailscale"
}

// Version runs `tailscale version` and parses its first line ("1.82.0",
// or "1.80.3-t1234abcd" on some builds). A missing binary is
// ErrNotInstalled.
func (t *Tailscale) Version(ctx context.Context) (TSVersion, error) {
	out, err := run(ctx, t.runner(), t.bin(), "version")
	if err != nil {
		return TSVersion{}, err
	}
	return parseTSVersion(firstLine(out))
}

func parseTSVersion(s string) (TSVersion, error) {
	core, _, _ := strings.Cut(strings.TrimSpace(s), "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return TSVersion{}, fmt.Errorf("cannot read the tailscale version from %q", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return TSVersion{}, fmt.Errorf("cannot read the tailscale version from %q", s)
		}
		n[i] = v
	}
	return TSVersion{n[0], n[1], n[2]}, nil
}

// Status is what `tailscale status --json` says about this node.
type Status struct {
	// FQDN is Self.DNSName without the trailing dot; "" when logged out.
	FQDN string
	// BackendState is tailscaled's state ("Running", "NeedsLogin", ...).
	BackendState string
	// FunnelCapable: the tailnet policy grants this node Funnel.
	FunnelCapable bool
}

// LoggedIn reports whether the node has a name on a tailnet.
func (s Status) LoggedIn() bool { return s.FQDN != "" && s.BackendState != "NeedsLogin" }

// Status runs `tailscale status --json`.
func (t *Tailscale) Status(ctx context.Context) (Status, error) {
	out, err := run(ctx, t.runner(), t.bin(), "status", "--json")
	if err != nil {
		return Status{}, fmt.Errorf("tailscale command failed: %w", err)
	}
	return parseStatus([]byte(out))
}

func parseStatus(b []byte) (Status, error) {
	var raw struct {
		BackendState string
		Self         *struct {
			DNSName string
			CapMap  map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Status{}, fmt.Errorf("tailscale command failed: reading `tailscale status --json`: %w", err)
	}
	s := Status{BackendState: raw.BackendState}
	if raw.Self != nil {
		s.FQDN = strings.TrimSuffix(raw.Self.DNSName, ".")
		// "funnel-ports" alone does not grant Funnel (reference §6.1).
		_, a := raw.Self.CapMap["funnel"]
		_, b := raw.Self.CapMap["https://tailscale.com/cap/funnel"]
		s.FunnelCapable = s.LoggedIn() && (a || b)
	}
	return s, nil
}

// ServeHandlers returns the handlers tailscale serves at host:port, mount
// → proxy target, from `tailscale serve status --json`.
func (t *Tailscale) ServeHandlers(ctx context.Context, hostPort string) (map[string]string, error) {
	out, err := run(ctx, t.runner(), t.bin(), "serve", "status", "--json")
	if err != nil {
		return nil, fmt.Errorf("tailscale command failed: %w", err)
	}
	return parseServeHandlers([]byte(out), hostPort)
}

func parseServeHandlers(b []byte, hostPort string) (map[string]string, error) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return map[string]string{}, nil
	}
	var cfg struct {
		Web map[string]struct {
			Handlers map[string]struct {
				Proxy string
				Path  string
				Text  string
			}
		}
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("tailscale command failed: reading `tailscale serve status --json`: %w", err)
	}
	out := map[string]string{}
	for mount, h := range cfg.Web[hostPort].Handlers {
		target := h.Proxy
		if target == "" {
			target = "(file or text handler)"
		}
		out[mount] = target
	}
	return out, nil
}

// verb is the subcommand that owns a layer at this version, and whether
// the --funnel flag rides on serve.
func verb(v TSVersion, layer string) (cmd string, funnelFlag bool) {
	if layer != state.LayerPublic {
		return "serve", false
	}
	if v.FunnelSubcommand() {
		return "funnel", false
	}
	return "serve", true
}

// UpArgv is the argv that serves target at https://<fqdn>:<port><mount>
// on layer.
func (t *Tailscale) UpArgv(v TSVersion, layer string, port int, mount, target string) []string {
	cmd, funnel := verb(v, layer)
	argv := []string{t.bin(), cmd, "--bg"}
	if funnel {
		argv = append(argv, "--funnel")
	}
	return append(argv, "--https="+strconv.Itoa(port), "--set-path="+mount, target)
}

// DownArgv is the argv that removes exactly the handler at port/mount.
func (t *Tailscale) DownArgv(v TSVersion, layer string, port int, mount string) []string {
	cmd, funnel := verb(v, layer)
	argv := []string{t.bin(), cmd}
	if funnel {
		argv = append(argv, "--funnel")
	}
	return append(argv, "--https="+strconv.Itoa(port), "--set-path="+mount, "off")
}

// sameTarget compares proxy targets the way tailscale stores them (it
// drops a trailing slash).
func sameTarget(a, b string) bool { return strings.TrimRight(a, "/") == strings.TrimRight(b, "/") }
