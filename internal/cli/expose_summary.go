package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/origin"
)

// reachable is one way to reach the hub and what guards it (§6.10).
type reachable struct {
	URL        string `json:"url"`
	From       string `json:"from"`
	Protection string `json:"protection"`
}

// currentOrigin is the origin modules get now: the running hub's own
// answer (GET /api/settings/hub-origin's resolved_issuer), because only
// the hub sees hub_settings.hub_origin and its own environment, which
// outrank the exposure. With the hub unreachable it is computed here from
// this process's environment and expose-state.json.
func (x *exposer) currentOrigin() string {
	ctx, cancel := context.WithTimeout(x.ctx, 5*time.Second)
	defer cancel()
	var b struct {
		ResolvedIssuer string `json:"resolved_issuer"`
	}
	if err := hubclient.New(x.paths).JSON(ctx, http.MethodGet, "/api/settings/hub-origin", nil, &b); err == nil && b.ResolvedIssuer != "" {
		return b.ResolvedIssuer
	}
	st, _ := state.Load(x.paths.Root)
	return origin.Resolve(origin.Inputs{Flag: st.Override(), Getenv: getenv, Exposed: st.Origins(), Port: x.port}).URL
}

// reachability lists where the hub can be reached from after the change.
func (x *exposer) reachability() []reachable { return reachability(x.paths.Root, x.port) }

// reachability lists where the hub on port can be reached from: loopback,
// any LAN address it also listens on, and the exposures recorded under
// root. `parachute status` shows the same list.
func reachability(root string, port int) []reachable {
	out := []reachable{{URL: origin.Loopback(port) + "/", From: "this machine",
		Protection: "operator token for the API; hub login for the admin pages"}}
	for _, ip := range lanListeners(port) {
		out = append(out, reachable{URL: "http://" + net.JoinHostPort(ip, strconv.Itoa(port)) + "/", From: "your local network (plain HTTP)",
			Protection: "hub login and tokens only, unencrypted — unset PARACHUTE_BIND_HOST / --bind to listen on loopback only"})
	}
	st, err := state.Load(root)
	if err != nil {
		return out
	}
	if r := st.Providers[state.Tailscale]; r != nil {
		if r.Layer == state.LayerPublic {
			out = append(out, reachable{URL: "https://" + r.CanonicalFQDN + "/", From: "anyone on the internet (Tailscale Funnel)",
				Protection: "hub login and tokens; modules marked loopback-only answer 404"})
		} else {
			out = append(out, reachable{URL: "https://" + r.CanonicalFQDN + "/", From: "devices on your tailnet (Tailscale Serve)",
				Protection: "tailnet membership and ACLs, then hub login and tokens"})
		}
	}
	if r := st.Providers[state.Cloudflare]; r != nil {
		for _, name := range slices.Sorted(maps.Keys(r.Tunnels)) { // a map: list them the same way every time
			t := r.Tunnels[name]
			out = append(out, reachable{URL: "https://" + t.Hostname + "/", From: "anyone on the internet (Cloudflare Tunnel " + t.Name + ")",
				Protection: "hub login and tokens; modules marked loopback-only answer 404"})
		}
	}
	return out
}

// lanListeners returns this machine's non-loopback addresses on which
// something accepts connections on port — the hub, when it was started
// with --bind 0.0.0.0 or a LAN address.
func lanListeners(port int) []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), strconv.Itoa(port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			out = append(out, ipn.IP.String())
		}
	}
	return out
}

// finish restarts the running modules through the hub so they get the new
// PARACHUTE_HUB_ORIGIN, then prints the summary (or the JSON).
func (x *exposer) finish(res *exposeResult) error {
	if x.batch {
		return nil
	}
	res.HubOrigin = x.currentOrigin()
	res.Reachable = x.reachability()
	var down []api.ModuleInfo
	res.Restarted, down, res.Warnings = x.restartModules(res.HubOrigin)
	if res.Action == "up" {
		// §6.2 step 6: never fatal, but the exposed devices now get the
		// "unreachable" page for these paths.
		for _, m := range down {
			p := "/" + m.Short
			if len(m.Paths) > 0 {
				p = m.Paths[0]
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s is not running, so %s%s answers \"unreachable\": start it with `parachute start %s` (see `parachute logs %s`)",
				m.Short, res.Origin, p, m.Short, m.Short))
		}
		if w := x.trustWarning(res.Provider); w != "" {
			res.Warnings = append(res.Warnings, w)
		}
	}
	if res.Layer == "public" && res.Action == "up" {
		res.Warnings = append(res.Warnings, x.loginWarnings(res.Origin)...)
	}
	if x.a.json {
		return x.printJSON(res)
	}
	x.logf("  Discovery: %s/.well-known/parachute.json\n  OAuth issuer: %s\n", res.HubOrigin, res.HubOrigin)
	for _, m := range res.Restarted {
		x.logf("  ✓ restarted %s with PARACHUTE_HUB_ORIGIN=%s\n", m, res.HubOrigin)
	}
	x.logf("\nReachable now:\n")
	for _, r := range res.Reachable {
		x.logf("  %s\n    from: %s\n    protected by: %s\n", r.URL, r.From, r.Protection)
	}
	if len(lanListeners(x.port)) == 0 {
		x.logf("  (the hub listens on loopback only; for LAN access set PARACHUTE_BIND_HOST or `parachute serve --bind`)\n")
	}
	for _, w := range res.Warnings {
		x.logf("⚠ %s\n", w)
	}
	return nil
}

// restartModules restarts every running module through the hub's module
// API, vault first (it mints and checks tokens against the origin). The
// hub not running is not an error: modules get the origin when it starts.
// hubOrigin is the origin they are restarted with (currentOrigin). down
// lists the installed modules that are not running.
func (x *exposer) restartModules(hubOrigin string) (restarted []string, down []api.ModuleInfo, warnings []string) {
	ctx, cancel := context.WithTimeout(x.ctx, 2*time.Minute)
	defer cancel()
	c := hubclient.New(x.paths)
	mods, err := c.Modules(ctx)
	if err != nil {
		return nil, nil, []string{fmt.Sprintf("could not ask the hub which modules run (%v); modules get the new origin when they next start (`parachute restart <module>`)", err)}
	}
	var shorts []string
	for _, m := range mods.Modules {
		switch {
		case m.SupervisorStatus != nil && (*m.SupervisorStatus == "running" || *m.SupervisorStatus == "starting"):
			shorts = append(shorts, m.Short)
		case m.Installed && (m.SupervisorStatus == nil || *m.SupervisorStatus != "restarting"):
			down = append(down, m)
		}
	}
	slices.SortFunc(shorts, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "vault":
			return -1
		case b == "vault":
			return 1
		case a < b:
			return -1
		}
		return 1
	})
	for _, s := range shorts {
		// A module's own .env wins over the hub's origin (with a warning in
		// the hub's log); say so here too, where the operator is looking.
		if vars, err := manifest.LoadEnv(x.paths.ModuleEnv(s)); err == nil {
			for _, v := range vars {
				if v.Key == "PARACHUTE_HUB_ORIGIN" && origin.Normalize(v.Value) != hubOrigin {
					warnings = append(warnings, fmt.Sprintf("%s sets PARACHUTE_HUB_ORIGIN=%s, which overrides the hub's %s for %s; remove that line unless you mean it",
						x.paths.ModuleEnv(s), v.Value, hubOrigin, s))
				}
			}
		}
		x.logf("Restarting %s to pick up the new hub origin…\n", s)
		_, err := c.ModuleOp(ctx, s, "restart")
		var he *hubclient.HTTPError
		switch {
		case err == nil:
			restarted = append(restarted, s)
		case errors.As(err, &he) && he.Status == http.StatusNotFound && he.Code == api.ErrorCode("not_supervised"):
			// It was not running after all.
		default:
			warnings = append(warnings, fmt.Sprintf("%s restart failed (%v). Run manually once the issue is resolved: parachute restart %s", s, err, s))
		}
	}
	return restarted, down, warnings
}

// loginWarnings is §6.10's account check after a public exposure, read from
// hub.db: /login now faces the internet, so say what still guards it —
// nothing to say when the owner has a password and two-factor on. When
// hub.db cannot be read it gives the whole advice.
func (x *exposer) loginWarnings(public string) []string {
	login := "/login is now reachable on the public internet (" + public + "/login): "
	all := []string{login + "set an owner password (`parachute auth set-password`) and enrol two-factor (`parachute auth 2fa enroll`, or /account/2fa)"}
	u, known := x.owner()
	switch {
	case !known:
		return all
	case u == nil:
		return append([]string{"No owner password is configured: set one now with `parachute auth set-password` " +
			"(until then the setup page asks for the bootstrap token in the hub's log)"}, all...)
	case u.TOTPEnrolled:
		x.logf("✓ Owner password is set and two-factor is on (%q).\n", u.Username)
		return nil
	}
	return []string{fmt.Sprintf("%stwo-factor is off for %q: enrol it with `parachute auth 2fa enroll` (or at /account/2fa)", login, u.Username)}
}

// owner reads the hub's owner account (the first admin) from hub.db; nil
// with known true when there is none yet, known false when hub.db cannot
// be read. It never creates hub.db.
func (x *exposer) owner() (u *accounts.User, known bool) {
	if _, err := os.Lstat(x.paths.HubDB()); err != nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(x.ctx, 5*time.Second)
	defer cancel()
	db, err := hubdb.Open(ctx, x.paths.HubDB())
	if err != nil {
		return nil, false
	}
	defer db.Close()
	store := accounts.NewStore(db)
	id, err := store.FirstAdminID(ctx)
	if errors.Is(err, accounts.ErrUserNotFound) {
		return nil, true
	}
	if err != nil {
		return nil, false
	}
	if u, err = store.ByID(ctx, id); err != nil {
		return nil, false
	}
	return u, true
}
