package cli

import (
	"fmt"

	"github.com/openparachute/parachute/internal/expose"
	"github.com/openparachute/parachute/internal/expose/state"
)

// legacyTunnelNotes names the Cloudflare tunnels the TypeScript hub
// recorded in cloudflared-state.json that this hub does not manage. Why:
// their connectors (a unit under our unit name, or a detached process)
// may still put the hub on the internet while status and `expose off`
// would otherwise say nothing is exposed. Re-running expose for the
// hostname adopts the tunnel (same tunnel, same unit name): it stops the
// recorded connector once /proc (ps on macOS) shows the pid still runs
// cloudflared for that tunnel (package expose/prior), and takes the
// record over. Status only reports: it never stops a process.
func legacyTunnelNotes(root string) []string {
	ts, err := state.LegacyTunnels(root)
	if err != nil {
		return []string{"exposures of the previous hub unknown: " + err.Error()}
	}
	var out []string
	for _, t := range ts {
		adopt := fmt.Sprintf("adopt it with `parachute expose cloudflare --domain %s --tunnel-name %s`, which stops the previous hub's connector and takes the tunnel over (then `parachute expose cloudflare off` removes it)", t.Hostname, t.Name)
		if t.Name == "parachute" {
			// The reference's old shared tunnel name: machines sharing it
			// served each other's hostnames (hub#491), so move the
			// hostname to a tunnel of its own instead of adopting it.
			adopt = fmt.Sprintf("move the hostname to a tunnel of its own with `parachute expose cloudflare --domain %s`, which also stops the old connector (the shared \"parachute\" tunnel sends requests to whichever machine runs it)", t.Hostname)
		}
		if t.ServiceManaged {
			out = append(out, fmt.Sprintf("the previous hub left Cloudflare tunnel %q for https://%s/ with its connector service %s (launchd: %s), which this hub does not manage and which may still expose it: %s",
				t.Name, t.Hostname, expose.ConnectorUnitName(t.Name), expose.ConnectorLabel(t.Name), adopt))
			continue
		}
		out = append(out, fmt.Sprintf("the previous hub left Cloudflare tunnel %q for https://%s/ with a connector process (pid %d when recorded), which this hub does not manage and which may still expose it: %s",
			t.Name, t.Hostname, t.PID, adopt))
	}
	return out
}
