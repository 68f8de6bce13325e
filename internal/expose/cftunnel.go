package expose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/atomicfile"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/servicemgr"
	"github.com/openparachute/parachute/internal/unit"
)

// Errors of the Cloudflare path the CLI turns into guidance.
var (
	ErrBadHostname   = errors.New("--domain must be a valid hostname")
	ErrBadTunnelName = errors.New("--tunnel-name must be alphanumeric with -/_")
	ErrDNSRoute      = errors.New("DNS route failed")
)

// CloudflareOptions says what to expose through a tunnel.
type CloudflareOptions struct {
	Root       string // config root
	Hostname   string // --domain
	TunnelName string // --tunnel-name; "" derives one from Hostname
	HubPort    int
	// HubOrigin overrides the recorded origin (--hub-origin, which the
	// reference drops on this path, §9.12); "" means https://<hostname>.
	HubOrigin string
	// Mgr installs the connector service; User is the account a system
	// unit runs as. With no manager (nil or KindNone) the tunnel is
	// recorded with connector "hub" and the running hub runs it.
	Mgr  servicemgr.Manager
	User string
	// LookPath resolves cloudflared to an absolute path for the unit; nil
	// means exec.LookPath.
	LookPath func(string) (string, error)
	Now      func() time.Time
	Logf     Logf
	// HubPID is the running hub's pid (0: unknown or not running): it and
	// its children (the hub's own connector) are never stopped as a
	// previous hub's connector.
	HubPID int
}

// TunnelPaths are a tunnel's files under the config root.
func TunnelPaths(root, name string) (dir, config, log string) {
	dir = filepath.Join(root, "cloudflared", name)
	return dir, filepath.Join(dir, "config.yml"), filepath.Join(dir, "cloudflared.log")
}

// Up creates (or reuses) the tunnel, routes DNS to it, writes its
// config.yml, installs its connector as a managed service and records it.
func (c *Cloudflare) Up(ctx context.Context, o CloudflareOptions) (*state.Record, state.Tunnel, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	host := strings.ToLower(strings.TrimSpace(o.Hostname))
	if !ValidHostname(host) {
		return nil, state.Tunnel{}, fmt.Errorf("%w (got %q); example: --domain hub.example.com", ErrBadHostname, o.Hostname)
	}
	name := o.TunnelName
	if name == "" {
		name = DeriveTunnelName(host)
	}
	if !ValidTunnelName(name) {
		return nil, state.Tunnel{}, fmt.Errorf("%w (got %q)", ErrBadTunnelName, name)
	}
	// No service manager (a container, a box without a user bus): the
	// running hub supervises the connector (package expose/connector).
	hubRun := o.Mgr == nil || o.Mgr.Kind() == servicemgr.KindNone
	installed, loggedIn, err := c.Readiness(ctx)
	switch {
	case err != nil:
		return nil, state.Tunnel{}, err
	case !installed:
		return nil, state.Tunnel{}, fmt.Errorf("cloudflared: %w", ErrNotInstalled)
	case !loggedIn:
		return nil, state.Tunnel{}, fmt.Errorf("%w (no %s); run `cloudflared tunnel login` and re-run", ErrCloudflaredNotLoggedIn, c.CertPath())
	}
	all, err := state.Load(o.Root)
	if err != nil {
		return nil, state.Tunnel{}, err
	}
	tunnels, err := c.ListTunnels(ctx)
	if err != nil {
		return nil, state.Tunnel{}, err
	}
	var uuid string
	for _, t := range tunnels {
		if t.Name == name {
			uuid = t.ID
			logf("✓ Reusing existing tunnel %q (%s)\n", name, uuid)
		}
	}
	if uuid == "" {
		logf("Creating Cloudflare tunnel %q…\n", name)
		if uuid, err = c.CreateTunnel(ctx, name); err != nil {
			return nil, state.Tunnel{}, err
		}
		logf("✓ Created tunnel %s (each machine gets its own tunnel)\n", uuid)
	}
	logf("Routing DNS: %s → tunnel %s…\n", host, uuid)
	if _, err := run(ctx, c.runner(), c.RouteDNSArgv(name, host)...); err != nil {
		return nil, state.Tunnel{}, fmt.Errorf("%w: %w; check that %s is a zone on this Cloudflare account and has no conflicting A/AAAA record", ErrDNSRoute, err, apex(host))
	}
	logf("✓ DNS routed.\n")

	dir, cfg, logFile := TunnelPaths(o.Root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, state.Tunnel{}, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := atomicfile.WriteFile(cfg, ConfigYAML(uuid, c.CredentialsPath(uuid), host, o.HubPort), 0o600); err != nil {
		return nil, state.Tunnel{}, fmt.Errorf("writing %s: %w", cfg, err)
	}
	logf("✓ Wrote %s\n", cfg)

	lookPath := o.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	abs, err := lookPath(c.bin())
	if err == nil {
		abs, err = filepath.Abs(abs)
	}
	if err != nil {
		return nil, state.Tunnel{}, fmt.Errorf("resolving cloudflared for the connector unit: %w", err)
	}
	tun := state.Tunnel{UUID: uuid, Name: name, Hostname: host, ConfigPath: cfg, Cloudflared: abs,
		StartedAt: now().UTC().Format(time.RFC3339), DNSRouted: true}
	taken := c.stopPrior(ctx, o, tun, all, logf)
	if hubRun {
		tun.Connector = state.ConnectorHub
		logf("✓ No service manager here: the hub runs the connector.\n")
	} else {
		unitName, _, msgs, err := InstallConnector(ctx, o.Mgr, c.Home, ConnectorOptions{
			Tunnel: name, Cloudflared: abs, ConfigPath: cfg, LogFile: logFile, User: o.User})
		for _, m := range msgs {
			logf("  %s\n", m)
		}
		if err != nil {
			return nil, state.Tunnel{}, err
		}
		logf("✓ Connector service %s installed and started.\n", unitName)
		tun.Unit, tun.System = unitName, ScopeOf(o.Mgr.Kind()) == unit.ScopeSystem
	}
	rec := all.Providers[state.Cloudflare]
	if rec == nil {
		rec = &state.Record{Version: 1, Layer: state.LayerPublic, Mode: "subdomain", Tunnels: map[string]state.Tunnel{}}
	}
	if rec.Tunnels == nil {
		rec.Tunnels = map[string]state.Tunnel{}
	}
	rec.CanonicalFQDN, rec.Port, rec.HubPort = host, o.HubPort, o.HubPort
	rec.Entries = []state.Entry{{Kind: "proxy", Mount: "/", Target: "http://localhost:" + strconv.Itoa(o.HubPort), Service: "hub"}}
	rec.HubOrigin = strings.TrimRight(o.HubOrigin, "/")
	if rec.HubOrigin == "" {
		rec.HubOrigin = "https://" + host
	}
	rec.Tunnels[name] = tun
	all.Providers[state.Cloudflare] = rec
	if err := state.Save(o.Root, all); err != nil {
		return nil, state.Tunnel{}, fmt.Errorf("the tunnel is up but the state was not saved: %w", err)
	}
	// The tunnel is recorded here now (reference §6.6's fields: uuid,
	// name, hostname, config path, started at); the previous hub's
	// records of it would only name a connector that is gone.
	if len(taken) > 0 {
		if err := state.ForgetLegacy(o.Root, taken...); err != nil {
			logf("⚠ Could not update the previous hub's %s: %v\n", state.LegacyTunnelsFile, err)
		} else {
			logf("✓ Took over %s from the previous hub's %s.\n", strings.Join(taken, ", "), state.LegacyTunnelsFile)
		}
	}
	return rec, tun, nil
}

// apex is the zone a hostname most likely belongs to (its last two labels).
func apex(host string) string {
	parts := strings.Split(host, ".")
	if len(parts) <= 2 {
		return host
	}
	return strings.Join(parts[len(parts)-2:], ".")
}

// UnknownTunnelError is off for a tunnel name not recorded.
type UnknownTunnelError struct {
	Name  string
	Known []string
}

func (e *UnknownTunnelError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("no Cloudflare exposure recorded for tunnel %q", e.Name)
	}
	return fmt.Sprintf("no Cloudflare exposure recorded for tunnel %q. Other tunnels: %s", e.Name, strings.Join(e.Known, ", "))
}

// Down removes the connector service of one tunnel (name) or of every
// recorded tunnel (name ""), and forgets them. The DNS record stays: cloudflared
// cannot delete DNS records (cloudflare/cloudflared#781), so the caller
// tells the operator which CNAME to remove. The tunnel object is kept too,
// so a re-expose reuses it. A record is forgotten only when its service
// was removed.
func (c *Cloudflare) Down(ctx context.Context, root, name string, mgr servicemgr.Manager, logf Logf) ([]state.Tunnel, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	all, err := state.Load(root)
	if err != nil {
		return nil, err
	}
	rec := all.Providers[state.Cloudflare]
	if rec == nil || len(rec.Tunnels) == 0 {
		return nil, ErrNothingRecorded
	}
	names := slices.Sorted(maps.Keys(rec.Tunnels))
	if name != "" {
		if _, ok := rec.Tunnels[name]; !ok {
			return nil, &UnknownTunnelError{Name: name, Known: names}
		}
		names = []string{name}
	} else if len(names) > 1 {
		logf("Tearing down all %d recorded Cloudflare tunnels: %s\n", len(names), strings.Join(names, ", "))
	}
	var removed []state.Tunnel
	var errs []error
	for _, n := range names {
		t := rec.Tunnels[n]
		if t.Unit != "" {
			if mgr == nil {
				errs = append(errs, fmt.Errorf("tunnel %s: %w", n, servicemgr.ErrNoManager))
				continue
			}
			path := servicemgr.UnitPath(mgr.Kind(), c.Home, t.Unit)
			if _, err := mgr.Uninstall(ctx, t.Unit, path); err != nil {
				errs = append(errs, fmt.Errorf("removing the connector service %s: %w", t.Unit, err))
				continue
			}
			logf("✓ Removed connector service %s (tunnel %q).\n", t.Unit, n)
		}
		if t.Connector == state.ConnectorHub {
			// Forgetting the record is what stops it: the hub watches
			// the state file.
			logf("✓ The hub stops the connector of tunnel %q.\n", n)
		}
		delete(rec.Tunnels, n)
		removed = append(removed, t)
	}
	if len(rec.Tunnels) == 0 {
		delete(all.Providers, state.Cloudflare)
	} else {
		// The first remaining tunnel (by name) now names the record.
		t := rec.Tunnels[slices.Min(slices.Collect(maps.Keys(rec.Tunnels)))]
		rec.CanonicalFQDN, rec.HubOrigin = t.Hostname, "https://"+t.Hostname
	}
	if err := state.Save(root, all); err != nil {
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}
