package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose"
	"github.com/openparachute/parachute/internal/expose/connector"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/hubsvc"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// exposeHost is what `parachute expose` needs from the machine; tests swap
// the parts (stdin, TTY, the service manager).
type exposeHost struct {
	stdin io.Reader
	tty   bool
	mgr   func() (servicemgr.Manager, error)
	home  string
	user  string
	// run runs `parachute <args>` on the operator's terminal (the auth
	// preflight's verbs); nil means print the command instead.
	run func(ctx context.Context, args ...string) error
}

// newExposeHost describes the real machine. The picker is interactive only
// when both stdin and stdout are terminals (reference §0.2).
var newExposeHost = func(e *env) exposeHost {
	home, _ := os.UserHomeDir()
	name := os.Getenv("SUDO_USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	return exposeHost{
		stdin: os.Stdin,
		tty:   isTerminal(os.Stdin) && isTerminal(e.stdout),
		mgr:   func() (servicemgr.Manager, error) { return servicemgr.Detect(servicemgr.HostDetectOptions()) },
		home:  home,
		user:  name,
		run:   runSelf,
	}
}

// exposeResult is the --json output and what the summary is printed from.
type exposeResult struct {
	Action    string      `json:"action"` // "up" or "off"
	Provider  string      `json:"provider,omitempty"`
	Layer     string      `json:"layer"`
	Origin    string      `json:"origin,omitempty"`
	HubOrigin string      `json:"hub_origin"`
	Reachable []reachable `json:"reachable"`
	Restarted []string    `json:"restarted,omitempty"`
	Warnings  []string    `json:"warnings,omitempty"`
	Nothing   bool        `json:"nothing_to_do,omitempty"`
}

// runExpose dispatches a parsed command line (§1.3 steps 8–14).
func (e *env) runExpose(ctx context.Context, a exposeArgs) error {
	paths, err := e.paths()
	if err != nil {
		return rootErr(err)
	}
	if err := paths.EnsureRoot(); err != nil {
		return rootErr(err)
	}
	h := newExposeHost(e)
	x := &exposer{ctx: ctx, e: e, a: a, paths: paths, host: h, port: hubPort(paths),
		ts: &expose.Tailscale{}, cf: &expose.Cloudflare{Home: h.home}}
	if a.json {
		// Progress lines would corrupt the JSON on stdout.
		x.logf = func(f string, args ...any) { e.eprintf(f, args...) }
	} else {
		x.logf = func(f string, args ...any) { e.printf(f, args...) }
	}
	switch {
	case a.cloudflare && a.mode == "off":
		return x.cloudflareOff()
	case a.cloudflare && a.domain == "":
		if !h.tty {
			return cloudflareDomainRequired()
		}
		return x.pick(state.Cloudflare)
	case a.cloudflare:
		return x.cloudflareUp(a.domain)
	case a.layer == "public" && a.mode == "" && (a.tailnet || a.skip):
		return x.tailscaleUp("public")
	case a.layer == "public" && a.mode == "" && h.tty:
		return x.pick("")
	case a.layer == "public" && a.mode == "":
		return x.autoPick()
	case a.layer == "public":
		return x.publicOff()
	case a.mode == "off":
		return x.tailscaleOff(a.layer)
	}
	return x.tailscaleUp(a.layer)
}

// exposer carries one `parachute expose` run.
type exposer struct {
	// ctx is Main's: one run's lifetime, cancelled with its caller.
	ctx   context.Context
	e     *env
	a     exposeArgs
	paths config.Paths
	host  exposeHost
	port  int
	ts    *expose.Tailscale
	cf    *expose.Cloudflare
	logf  expose.Logf
	// batch defers finish while publicOff tears down two providers, so
	// modules restart once and one summary (or JSON document) is printed.
	batch bool
}

// ensureHub makes sure the hub answers before anything is exposed, starting
// its unit through the service manager when one is installed. Why: an
// exposure of a hub that is down is a public URL answering 502 while the
// summary says it is reachable; the reference ensures the hub unit first
// and stops before any provider command when it cannot (lifecycle.md §6.2
// step 9, §6.8).
func (x *exposer) ensureHub() error {
	ctl := &hubsvc.Controller{
		Paths: x.paths,
		Health: func(ctx context.Context) error {
			_, err := hubclient.New(x.paths).Health(ctx)
			return err
		},
		Logf: func(format string, args ...any) { x.logf(format+"\n", args...) },
	}
	probe, cancel := context.WithTimeout(x.ctx, 5*time.Second)
	err := ctl.Health(probe)
	cancel()
	if err == nil {
		return nil
	}
	mgr, err := x.host.mgr()
	if err != nil {
		return hubDownError(ctl, x.paths, err)
	}
	ctl.Mgr = mgr
	if _, err := ctl.Ensure(x.ctx); err != nil {
		return hubDownError(ctl, x.paths, err)
	}
	x.logf("✓ hub unit up (port %d).\n", hubPort(x.paths))
	return nil
}

func (x *exposer) tailscaleUp(layer string) error {
	if err := x.ensureHub(); err != nil {
		return err
	}
	rec, err := x.ts.Up(x.ctx, expose.TailscaleOptions{
		Root: x.paths.Root, Layer: layer, HubPort: x.port, HubOrigin: x.a.hubOrigin, Logf: x.logf})
	if err != nil {
		return x.tailscaleError(err)
	}
	_ = state.SaveLastProvider(x.paths.Root, state.Tailscale, time.Now())
	res := &exposeResult{Action: "up", Provider: "tailscale", Layer: layer, Origin: "https://" + rec.CanonicalFQDN}
	if layer == "public" {
		x.logf("✓ Public exposure active (Funnel). Open: https://%s/\n", rec.CanonicalFQDN)
		x.logf("This node is reachable from the public internet.\n")
	} else {
		x.logf("✓ Tailnet exposure active. Open: https://%s/\n", rec.CanonicalFQDN)
	}
	return x.finish(res)
}

// tailscaleError maps the expose package's errors to the reference's
// guidance; the others (a malformed state file among them) already say
// what to do.
func (x *exposer) tailscaleError(err error) error {
	if errors.Is(err, expose.ErrNotInstalled) {
		return fail(ExitFail, "tailscale is not installed or not on PATH.\nInstall from https://tailscale.com/download and run `tailscale up`.")
	}
	return fail(ExitFail, "✗ %v", err)
}

func (x *exposer) tailscaleOff(layer string) error {
	rec, err := x.ts.Down(x.ctx, x.paths.Root, layer, x.logf)
	var ole *expose.OtherLayerError
	switch {
	case errors.Is(err, expose.ErrNothingRecorded):
		return x.nothing(layer, "No "+expose.LayerLabel(layer)+" exposure recorded. Nothing to tear down.")
	case errors.As(err, &ole):
		return x.nothing(layer, "No "+expose.LayerLabel(layer)+" exposure recorded.\nCurrent exposure is "+expose.LayerLabel(ole.Current)+".\nRun: parachute expose "+ole.Current+" off")
	case err != nil:
		return x.tailscaleError(err)
	}
	x.logf("✓ %s exposure removed (was https://%s/).\n", expose.LayerLabel(layer), rec.CanonicalFQDN)
	return x.finish(&exposeResult{Action: "off", Provider: "tailscale", Layer: layer, Origin: "https://" + rec.CanonicalFQDN})
}

func (x *exposer) nothing(layer, msg string) error {
	legacy := legacyTunnelNotes(x.paths.Root)
	if x.a.json {
		return x.printJSON(&exposeResult{Action: "off", Layer: layer, Nothing: true, HubOrigin: x.currentOrigin(),
			Reachable: x.reachability(), Warnings: legacy})
	}
	x.logf("%s\n", msg)
	for _, n := range legacy {
		x.logf("⚠ %s\n", n)
	}
	return nil
}

// manager is the service manager for the connector; nil when there is
// none (a container, no systemd user bus), and the hub runs it.
func (x *exposer) manager() (servicemgr.Manager, error) {
	mgr, err := x.host.mgr()
	if errors.Is(err, servicemgr.ErrNoManager) {
		return nil, nil
	}
	return mgr, err
}

func (x *exposer) cloudflareUp(domain string) error {
	if err := x.ensureHub(); err != nil {
		return err
	}
	mgr, err := x.manager()
	if err != nil {
		return fail(ExitFail, "✗ %v", err)
	}
	rec, tun, err := x.cf.Up(x.ctx, expose.CloudflareOptions{
		Root: x.paths.Root, Hostname: domain, TunnelName: x.a.tunnelName, HubPort: x.port,
		HubOrigin: x.a.hubOrigin, Mgr: mgr, User: x.host.user, Logf: x.logf, HubPID: x.hubPID()})
	switch {
	case errors.Is(err, expose.ErrNotInstalled):
		return fail(ExitFail, "cloudflared is not installed or not on PATH.\n%s\nThen run `cloudflared tunnel login` and re-run this command.", cloudflaredInstallHint())
	case errors.Is(err, expose.ErrCloudflaredNotLoggedIn):
		return fail(ExitFail, "cloudflared is not logged in.\nRun `cloudflared tunnel login` (it opens a browser to pick the zone), then re-run this command.")
	case errors.Is(err, expose.ErrBadHostname):
		return fail(ExitFail, "parachute expose public --cloudflare: --domain must be a valid hostname (got %q).\nExample: parachute expose public --cloudflare --domain vault.example.com", domain)
	case errors.Is(err, expose.ErrBadTunnelName):
		return fail(ExitFail, "parachute expose public --cloudflare: --tunnel-name must be alphanumeric with -/_ (got %q).", x.a.tunnelName)
	case err != nil:
		return fail(ExitFail, "✗ %v", err)
	}
	_ = state.SaveLastProvider(x.paths.Root, state.Cloudflare, time.Now())
	x.logf("✓ Cloudflare tunnel up.\n  Tunnel: %s (dedicated to this machine)\n  Open: https://%s/\n  Admin: https://%s/admin/\n",
		tun.Name, tun.Hostname, tun.Hostname)
	if tun.Connector == state.ConnectorHub {
		x.hubConnectorNote(tun)
	} else {
		x.logf("  Service: %s (restarts on failure and at boot)\n  Logs: journalctl %s-u %s\n", tun.Unit, userFlag(!tun.System), tun.Unit)
	}
	return x.finish(&exposeResult{Action: "up", Provider: "cloudflare", Layer: "public", Origin: "https://" + rec.CanonicalFQDN})
}

// hubPID is the running hub's pid, 0 when it does not answer. Why: the
// hub and its children (its own Cloudflare connector) must never be
// taken for a connector the previous hub left behind.
func (x *exposer) hubPID() int {
	ctx, cancel := context.WithTimeout(x.ctx, 5*time.Second)
	defer cancel()
	if h, err := hubclient.New(x.paths).Health(ctx); err == nil {
		return h.PID
	}
	return 0
}

// hubConnectorNote tells the operator what a hub-run connector survives:
// exactly what the hub survives.
func (x *exposer) hubConnectorNote(tun state.Tunnel) {
	x.logf("  Connector: run by the hub (no service manager on this machine): it runs while the hub runs,\n" +
		"    is restarted if it exits, and starts again whenever the hub starts. A reboot, container restart\n" +
		"    or redeploy brings it back once the hub is started again (in a container, keep the config root\n" +
		"    and ~/.cloudflared on persistent storage). It stops when the hub stops.\n")
	x.logf("  Logs: %s (and the hub's output, prefixed [%s%s])\n", connector.LogFile(x.paths.Root, tun.Name), connector.Prefix, tun.Name)
	ctx, cancel := context.WithTimeout(x.ctx, 5*time.Second)
	defer cancel()
	if _, err := hubclient.New(x.paths).Health(ctx); err != nil {
		x.logf("⚠ The hub is not running, so neither is the connector: start it (`parachute serve`, or your container's entrypoint).\n")
	}
}

func userFlag(user bool) string {
	if user {
		return "--user "
	}
	return ""
}

func cloudflaredInstallHint() string {
	return "Install it from https://github.com/cloudflare/cloudflared/releases/latest (macOS: `brew install cloudflared`;\n" +
		"Linux: the cloudflared-linux-<amd64|arm64|arm> release binary into /usr/local/bin, then `cloudflared --version`)."
}

func (x *exposer) cloudflareOff() error {
	mgr, err := x.manager()
	if err != nil {
		return fail(ExitFail, "✗ %v", err)
	}
	removed, err := x.cf.Down(x.ctx, x.paths.Root, x.a.tunnelName, mgr, x.logf)
	var ute *expose.UnknownTunnelError
	switch {
	case errors.Is(err, expose.ErrNothingRecorded):
		return x.nothing("public", "No Cloudflare exposure recorded. Nothing to tear down.")
	case errors.As(err, &ute):
		return x.nothing("public", "No Cloudflare exposure recorded for tunnel \""+ute.Name+"\". Other tunnels: "+strings.Join(ute.Known, ", ")+".")
	}
	for _, t := range removed {
		x.logf("%s is no longer reachable through this machine.\n", t.Hostname)
		x.cf.Unroute(x.ctx, t, x.logf)
	}
	if err != nil {
		return fail(ExitFail, "✗ %v", err)
	}
	return x.finish(&exposeResult{Action: "off", Provider: "cloudflare", Layer: "public"})
}

// readAnswer reads one trimmed line of input; "" at EOF.
func readAnswer(r *bufio.Reader) (string, bool) {
	s, err := r.ReadString('\n')
	if err != nil && s == "" {
		return "", false
	}
	return strings.TrimSpace(s), true
}

func (x *exposer) printJSON(r *exposeResult) error {
	enc := json.NewEncoder(x.e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
