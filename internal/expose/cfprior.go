package expose

import (
	"context"

	"github.com/openparachute/parachute/internal/expose/prior"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// stopPrior stops the connectors the previous (TypeScript) hub recorded
// for the tunnel tun is about to run, before ours starts: otherwise its
// detached connector keeps serving the hostname next to ours, with
// whatever config it started with (reference §9.30). It spares the
// connector unit's main process (the unit has our unit's name, so it is
// ours to restart, not to kill) and the hub with its children (the hub's
// own connector). It returns the records taken over, which Up drops from
// cloudflared-state.json once expose-state.json records the tunnel. A
// connector it could not stop is a warning: the exposure still works, and
// the message says which pid to kill.
func (c *Cloudflare) stopPrior(ctx context.Context, o CloudflareOptions, tun state.Tunnel, logf Logf) (taken []string) {
	po := o.Prior
	po.Root = o.Root
	if o.HubPID > 0 {
		po.Spare = append(po.Spare, o.HubPID)
		po.SpareChildrenOf = append(po.SpareChildrenOf, o.HubPID)
	}
	if o.Mgr != nil && o.Mgr.Kind() != servicemgr.KindNone {
		name := ConnectorUnitName(tun.Name)
		if k := o.Mgr.Kind(); k == servicemgr.KindLaunchd || k == servicemgr.KindLaunchdSystem {
			name = ConnectorLabel(tun.Name)
		}
		if st, err := o.Mgr.State(ctx, name, servicemgr.UnitPath(o.Mgr.Kind(), c.Home, name)); err == nil && st.MainPID > 0 {
			po.Spare = append(po.Spare, st.MainPID)
		}
	}
	out, err := prior.Stop(ctx, po, prior.Target{Name: tun.Name, UUID: tun.UUID, Hostname: tun.Hostname, ConfigPath: tun.ConfigPath})
	for _, oc := range out {
		mark := "✓"
		if !oc.Taken {
			mark = "⚠"
		}
		logf("%s %s\n", mark, oc.Message)
		if oc.Taken {
			taken = append(taken, oc.Tunnel.Name)
		}
	}
	if err != nil && len(out) == 0 {
		logf("⚠ Could not read the previous hub's connectors: %v\n", err)
	}
	return taken
}
