package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/expose"
	"github.com/openparachute/parachute/internal/expose/connector"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/origin"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// checkToken: the operator token exists, is a private regular file we own,
// and the running hub accepts it.
func checkToken(ctx context.Context, d *Doctor, r *run) {
	path := d.Paths.OperatorToken()
	rotate := "parachute auth rotate-operator"
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		sev := Warn
		if r.hubUp {
			sev = Error
		}
		r.add(Finding{Check: "token", Severity: sev,
			Seen: "there is no operator token at " + path + ": CLI verbs cannot authenticate to the hub", Fix: rotate})
		return
	case err != nil:
		r.add(Finding{Check: "token", Severity: Error, Seen: fmt.Sprintf("cannot read %s: %v", path, err), Fix: "ls -l " + shellArg(path)})
		return
	case !fi.Mode().IsRegular():
		// Why: the CLI refuses to follow a symlinked token (it would send
		// whatever it points at to the hub as a bearer token).
		r.add(Finding{Check: "token", Severity: Error,
			Seen: path + " is not a regular file (" + fi.Mode().Type().String() + "); the CLI refuses to use it",
			Fix:  "rm " + shellArg(path) + " && " + rotate})
		return
	}
	// Why readability, not ownership, decides: the CLI only needs to read
	// the token. The system package's root is owned by the parachute user
	// with a 0640 token its group reads (auth.WriteTokenFile), and root
	// reads any file; telling either to chown the token to themselves
	// would take it away from the hub's user.
	if _, err := os.ReadFile(path); err != nil {
		uid, ok := fileOwner(fi)
		switch {
		case ok && uid == 0 && d.Probes.EUID != 0:
			// A `sudo parachute …` in the operator's own root left it
			// root's: it is theirs again with a chown.
			r.add(Finding{Check: "token", Severity: Error,
				Seen: fmt.Sprintf("%s is owned by root, not by you (uid %d), and you cannot read it", path, d.Probes.EUID),
				Fix:  "sudo chown " + strconv.Itoa(d.Probes.EUID) + " " + shellArg(path)})
		case ok && uid != d.Probes.EUID:
			r.add(Finding{Check: "token", Severity: Error,
				Seen: fmt.Sprintf("%s belongs to uid %d and you (uid %d) cannot read it: CLI verbs cannot authenticate to the hub", path, uid, d.Probes.EUID),
				Fix:  fmt.Sprintf("sudo -u '#%d' parachute doctor   # run the CLI as the hub's user, or join the file's group", uid)})
		default:
			r.add(Finding{Check: "token", Severity: Error, Seen: fmt.Sprintf("cannot read %s: %v", path, err), Fix: "ls -l " + shellArg(path)})
		}
		return
	}
	// Group read alone (0640) is the system package's deliberate setup;
	// group write or any access for others is not (auth.looseTokenBits).
	if perm := fi.Mode().Perm(); perm&0o027 != 0 {
		r.add(Finding{Check: "token", Severity: Error,
			Seen: fmt.Sprintf("%s is readable by others (mode %04o): anyone who reads it administers the hub", path, perm),
			Fix:  "chmod 600 " + shellArg(path) + " && " + rotate})
		return
	}
	if !r.hubUp || d.Probes.TokenCheck == nil {
		r.add(Finding{Check: "token", Severity: OK, Seen: path + " is private and readable by you; not checked against the hub (it is not answering)"})
		return
	}
	if err := d.Probes.TokenCheck(ctx); err != nil {
		r.add(Finding{Check: "token", Severity: Error,
			Seen: fmt.Sprintf("the hub refuses the operator token: %v", err), Fix: rotate})
		return
	}
	r.add(Finding{Check: "token", Severity: OK, Seen: path + " is private, readable by you, and the hub accepts it"})
}

// checkOrigin: the origin the hub should mint tokens for (from its
// environment and the exposure state) against the issuer it really uses.
func checkOrigin(ctx context.Context, d *Doctor, r *run) {
	getenv := d.getenv
	where := "your shell"
	if r.hubEnv != nil {
		getenv = func(k string) string { v, _ := lookup(r.hubEnv, k); return v }
		where = "the hub's environment"
	}
	st, _ := state.Load(d.Paths.Root) // a malformed file is checkExposure's finding
	want := origin.Resolve(origin.Inputs{Flag: st.Override(), Getenv: getenv, Exposed: st.Origins(), Port: d.Probes.HubPort})
	if err := origin.Validate(want.URL); err != nil {
		r.add(Finding{Check: "origin", Severity: Error,
			Seen: fmt.Sprintf("the configured hub origin (%s, from %s in %s) is unusable: %v", want.URL, want.Source, where, err),
			Fix:  "set " + string(want.Source) + " to a URL like https://hub.example.com in the hub unit's environment, then: parachute init"})
		return
	}
	if !r.hubUp || d.Probes.Issuer == nil {
		return
	}
	iss, err := d.Probes.Issuer(ctx)
	if err != nil {
		r.add(Finding{Check: "origin", Severity: Warn, Seen: fmt.Sprintf("could not read the hub's issuer: %v", err),
			Fix: "parachute logs hub"})
		return
	}
	iss = origin.Normalize(iss)
	if iss == want.URL {
		r.add(Finding{Check: "origin", Severity: OK, Seen: fmt.Sprintf("the hub's issuer is %s, as configured (%s)", iss, want.Source)})
		return
	}
	f := Finding{Check: "origin", Severity: Warn,
		Seen: fmt.Sprintf("the hub issues tokens for %s, but its configuration says %s (from %s)", iss, want.URL, want.Source),
		Detail: []string{"modules are given the hub's issuer as PARACHUTE_HUB_ORIGIN; clients that reach the hub at the other origin get tokens they cannot use",
			"an origin set in the hub's settings page (hub_settings.hub_origin) wins over the environment and exposure; if that is deliberate, ignore this"},
		Fix: "parachute restart   # the hub re-reads its environment and expose-state when it starts"}
	if len(st.Origins()) > 0 && strings.HasPrefix(iss, "http://127.0.0.1") {
		f.Severity = Error
		f.Seen = fmt.Sprintf("the hub is exposed at %s but still issues tokens for %s: remote clients (MCP, the apps) will fail to sign in", st.Origins()[0], iss)
	}
	r.add(f)
}

// checkExposure: what expose-state.json records against what tailscale
// and the Cloudflare connectors report. An absent tool is skipped quietly.
func checkExposure(ctx context.Context, d *Doctor, r *run) {
	p := d.Probes
	st, err := state.Load(d.Paths.Root)
	if err != nil {
		r.add(Finding{Check: "exposure", Severity: Error, Seen: err.Error(),
			Fix: "mv " + shellArg(filepath.Join(d.Paths.Root, state.StateFile)) + " " + shellArg(filepath.Join(d.Paths.Root, state.StateFile+".bad")) + "   # then re-run parachute expose"})
		return
	}
	if len(st.Providers) == 0 {
		r.add(Finding{Check: "exposure", Severity: OK, Seen: "the hub is not exposed beyond this machine"})
		return
	}
	if rec := st.Providers[state.Tailscale]; rec != nil {
		r.add(tailscaleFinding(ctx, p, rec))
	}
	if rec := st.Providers[state.Cloudflare]; rec != nil {
		for _, f := range cloudflareFindings(ctx, d, r, rec) {
			r.add(f)
		}
	}
}

func tailscaleFinding(ctx context.Context, p Probes, rec *state.Record) Finding {
	up := "parachute expose " + rec.Layer
	if p.LookPath == nil {
		return Finding{Check: "exposure", Severity: Info, Seen: "tailscale exposure recorded; not checked here"}
	}
	bin, err := p.LookPath("tailscale")
	if err != nil || p.Run == nil {
		return Finding{Check: "exposure", Severity: Info,
			Seen: "expose-state records a tailscale exposure at " + rec.Origin() + ", but tailscale is not installed here to check it"}
	}
	port := rec.Port
	if port == 0 {
		port = 443
	}
	ts := &expose.Tailscale{Run: p.Run, Bin: bin}
	handlers, err := ts.ServeHandlers(ctx, rec.CanonicalFQDN+":"+strconv.Itoa(port))
	if err != nil {
		return Finding{Check: "exposure", Severity: Warn, Seen: fmt.Sprintf("could not ask tailscale what it serves: %v", err),
			Fix: "tailscale status"}
	}
	hubPort := rec.HubPort
	if hubPort == 0 {
		hubPort = p.HubPort
	}
	target := handlers["/"]
	switch {
	case target == "":
		return Finding{Check: "exposure", Severity: Error,
			Seen: fmt.Sprintf("expose-state says the hub is served at %s, but tailscale serves nothing at / there", rec.Origin()),
			Fix:  up}
	case !strings.Contains(target, "127.0.0.1:"+strconv.Itoa(hubPort)) && !strings.Contains(target, "localhost:"+strconv.Itoa(hubPort)):
		return Finding{Check: "exposure", Severity: Error,
			Seen: fmt.Sprintf("tailscale serves %s at %s, not the hub on port %d", target, rec.Origin(), hubPort),
			Fix:  up}
	}
	return Finding{Check: "exposure", Severity: OK, Seen: fmt.Sprintf("tailscale serves the hub at %s (%s)", rec.Origin(), rec.Layer)}
}

func cloudflareFindings(ctx context.Context, d *Doctor, r *run, rec *state.Record) []Finding {
	p := d.Probes
	var out []Finding
	for _, name := range sortedKeys(rec.Tunnels) {
		tun := rec.Tunnels[name]
		if tun.Connector == state.ConnectorHub {
			out = append(out, hubConnectorFinding(d, r, name, tun))
			continue
		}
		if tun.Unit == "" || p.ConnectorState == nil {
			continue
		}
		if p.LookPath != nil {
			if _, err := p.LookPath("cloudflared"); err != nil {
				out = append(out, Finding{Check: "exposure", Severity: Info,
					Seen: "expose-state records a Cloudflare exposure at " + rec.Origin() + ", but cloudflared is not installed here to check it"})
				continue
			}
		}
		cs, err := p.ConnectorState(ctx, tun.Unit, tun.System)
		sudo, scope := "", " --user"
		if tun.System {
			sudo, scope = "sudo ", ""
		}
		switch {
		case err != nil:
			out = append(out, Finding{Check: "exposure", Severity: Warn,
				Seen: fmt.Sprintf("could not read the Cloudflare connector %s: %v", tun.Unit, err),
				Fix:  sudo + "systemctl" + scope + " status " + tun.Unit})
		case cs.ActiveState != "active":
			out = append(out, Finding{Check: "exposure", Severity: Error,
				Seen: fmt.Sprintf("the Cloudflare connector for %s (%s) is %s: https://%s does not reach this hub",
					tun.Hostname, tun.Unit, orWord(cs.ActiveState, "not running"), tun.Hostname),
				Fix: sudo + "systemctl" + scope + " restart " + tun.Unit})
		default:
			out = append(out, Finding{Check: "exposure", Severity: OK,
				Seen: fmt.Sprintf("the Cloudflare connector for %s is running (pid %d)", tun.Hostname, cs.MainPID)})
		}
	}
	return out
}

// hubConnectorFinding judges a tunnel whose connector the hub runs (no
// service manager when it was exposed): it is up when the running hub has
// a `cloudflared … --config <its config> run` child, as package
// expose/connector starts it. There is no unit to restart: the hub
// restarts the connector itself and retries a failed start when
// expose-state.json changes, so the fixes read its log and re-expose (or
// start the hub).
func hubConnectorFinding(d *Doctor, r *run, name string, tun state.Tunnel) Finding {
	p := d.Probes
	log := connector.LogFile(d.Paths.Root, name)
	tail := "tail -n 30 " + shellArg(log)
	if !r.hubUp {
		start := "parachute start"
		if p.Kind == servicemgr.KindNone {
			start = "parachute serve   # or restart the container that runs it"
		}
		return Finding{Check: "exposure", Severity: Error,
			Seen: fmt.Sprintf("the hub runs the Cloudflare connector for %s and is not answering: https://%s does not reach this hub", tun.Hostname, tun.Hostname),
			Fix:  start}
	}
	// The process holding the hub's port, else the hub unit's main
	// process: a root hub's sockets are hidden from an operator's doctor,
	// its unit's MainPID is not.
	hubPID := r.unit.MainPID
	if p.HolderOf != nil {
		if h, ok := p.HolderOf(p.HubPort); ok {
			hubPID = h.PID
		}
	}
	if hubPID == 0 || p.ChildArgvs == nil {
		return Finding{Check: "exposure", Severity: Info,
			Seen: fmt.Sprintf("the hub runs the Cloudflare connector for %s; whether it is running cannot be told here", tun.Hostname),
			Fix:  tail}
	}
	kids, err := p.ChildArgvs(hubPID)
	if err != nil {
		return Finding{Check: "exposure", Severity: Warn,
			Seen: fmt.Sprintf("could not list the hub's (pid %d) processes to find the Cloudflare connector for %s: %v", hubPID, tun.Hostname, err),
			Fix:  tail}
	}
	for _, pid := range slices.Sorted(maps.Keys(kids)) {
		if connector.IsArgv(kids[pid], tun.ConfigPath) {
			return Finding{Check: "exposure", Severity: OK,
				Seen: fmt.Sprintf("the hub (pid %d) runs the Cloudflare connector for %s (pid %d)", hubPID, tun.Hostname, pid)}
		}
	}
	return Finding{Check: "exposure", Severity: Error,
		Seen: fmt.Sprintf("the hub (pid %d) is not running the Cloudflare connector for %s: https://%s does not reach this hub", hubPID, tun.Hostname, tun.Hostname),
		Detail: []string{"the hub starts the connector when it starts and when expose-state.json changes, and restarts it when it exits",
			"its output is in " + log},
		Fix: tail + "   # why it is not running (cloudflared missing from the hub's PATH, a bad config)\n" +
			"parachute expose public --cloudflare --domain " + tun.Hostname + "   # rewrites expose-state.json, so the hub starts it again"}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
