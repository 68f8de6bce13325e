package expose

import (
	"context"
	"strings"

	"github.com/openparachute/parachute/internal/expose/prior"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// stopPrior stops the connectors the previous (TypeScript) hub recorded
// for the tunnel tun is about to run, and orphan connectors of it, before
// ours starts: otherwise its detached connector keeps serving the
// hostname next to ours, with whatever config it started with (reference
// §9.30). It spares the
// connector unit's main process (the unit has our unit's name, so it is
// ours to restart, not to kill) and the hub with its children (the hub's
// own connector). It returns the records taken over, which Up drops from
// cloudflared-state.json once expose-state.json records the tunnel. A
// connector it could not stop is a warning: the exposure still works, and
// the message says which pid to kill.
func (c *Cloudflare) stopPrior(ctx context.Context, o CloudflareOptions, tun state.Tunnel, ours *state.State, logf Logf) (taken []string) {
	c.removeMigratedUnits(ctx, o, tun, ours, logf)
	po := prior.Options{Root: o.Root}
	if o.HubPID > 0 {
		po.Spare = append(po.Spare, o.HubPID)
		po.SpareChildrenOf = append(po.SpareChildrenOf, o.HubPID)
		// Only with the hub known can its own connector be told from
		// an orphan with the same command line.
		po.Orphans = true
	}
	if o.Mgr != nil && o.Mgr.Kind() != servicemgr.KindNone {
		name := connectorUnit(o.Mgr.Kind(), tun.Name)
		if st, err := o.Mgr.State(ctx, name, servicemgr.UnitPath(o.Mgr.Kind(), c.Home, name)); err == nil && st.MainPID > 0 {
			po.Spare = append(po.Spare, st.MainPID)
		}
	}
	out, err := prior.Stop(ctx, po, prior.Target{Name: tun.Name, UUID: tun.UUID, Hostname: tun.Hostname, ConfigPath: tun.ConfigPath})
	for _, oc := range out {
		mark := "✓"
		if !oc.Taken && !oc.Stopped {
			mark = "⚠"
		}
		logf("%s %s\n", mark, oc.Message)
		if oc.Taken && !oc.Orphan {
			taken = append(taken, oc.Tunnel.Name)
		}
	}
	if err != nil && len(out) == 0 {
		logf("⚠ Could not read the previous hub's connectors: %v\n", err)
	}
	return taken
}

// removeMigratedUnits removes the connector service the previous hub ran
// for another tunnel serving this hostname (its shared "parachute"
// tunnel, reference §6.8 legacy migration): the unit restarts whatever
// process Stop ends, so the unit itself must go. A tunnel of that name
// this hub records is its own and is left alone.
func (c *Cloudflare) removeMigratedUnits(ctx context.Context, o CloudflareOptions, tun state.Tunnel, ours *state.State, logf Logf) {
	if o.Mgr == nil || o.Mgr.Kind() == servicemgr.KindNone {
		return
	}
	recs, err := state.LegacyRecords(o.Root)
	if err != nil {
		return // Stop reports it
	}
	var known map[string]state.Tunnel
	if r := ours.Providers[state.Cloudflare]; r != nil {
		known = r.Tunnels
	}
	for _, r := range recs {
		_, mine := known[r.Name]
		if !r.ServiceManaged || r.Name == tun.Name || mine || !ValidTunnelName(r.Name) ||
			!strings.EqualFold(r.Hostname, tun.Hostname) {
			continue
		}
		name := connectorUnit(o.Mgr.Kind(), r.Name)
		if _, err := o.Mgr.Uninstall(ctx, name, servicemgr.UnitPath(o.Mgr.Kind(), c.Home, name)); err != nil {
			logf("⚠ Could not remove the previous hub's connector service %s: %v\n", name, err)
			continue
		}
		logf("✓ Removed the previous hub's connector service %s (migrated %s to dedicated tunnel %s).\n", name, tun.Hostname, tun.Name)
	}
}

// connectorUnit is the manager's name for a tunnel's connector service.
func connectorUnit(k servicemgr.Kind, tunnel string) string {
	if k == servicemgr.KindLaunchd || k == servicemgr.KindLaunchdSystem {
		return ConnectorLabel(tunnel)
	}
	return ConnectorUnitName(tunnel)
}
