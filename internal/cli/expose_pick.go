package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/openparachute/parachute/internal/expose"
	"github.com/openparachute/parachute/internal/expose/state"
)

// readiness is each provider's readiness for the public layer (§6.4).
type readiness struct {
	tsInstalled, tsLoggedIn, tsFunnel bool
	cfInstalled, cfLoggedIn           bool
}

func (r readiness) tailscale() bool  { return r.tsInstalled && r.tsLoggedIn && r.tsFunnel }
func (r readiness) cloudflare() bool { return r.cfInstalled && r.cfLoggedIn }

func (x *exposer) readiness() readiness {
	ctx := x.ctx
	var r readiness
	if _, err := x.ts.Version(ctx); err == nil {
		r.tsInstalled = true
		if st, err := x.ts.Status(ctx); err == nil {
			r.tsLoggedIn, r.tsFunnel = st.LoggedIn(), st.FunnelCapable
		}
	}
	r.cfInstalled, r.cfLoggedIn, _ = x.cf.Readiness(ctx)
	return r
}

func check(ok bool) string {
	if ok {
		return "✓"
	}
	return "-"
}

func (r readiness) tailscaleSteps() string {
	return fmt.Sprintf("  %s install Tailscale: https://tailscale.com/download\n  %s log in: tailscale up\n"+
		"  %s allow Funnel: add \"nodeAttrs\": [{ \"target\": [\"*\"], \"attr\": [\"funnel\"] }] at https://login.tailscale.com/admin/acls\n",
		check(r.tsInstalled), check(r.tsLoggedIn), check(r.tsFunnel))
}

func (r readiness) cloudflareSteps() string {
	return fmt.Sprintf("  %s install cloudflared: %s\n  %s log in: cloudflared tunnel login\n"+
		"  then: parachute expose public --cloudflare --domain <hostname>\n",
		check(r.cfInstalled), cloudflaredInstallHint(), check(r.cfLoggedIn))
}

// autoPick is `expose public` without a TTY (§6.5): use the one ready
// provider, refuse to guess between two.
func (x *exposer) autoPick() error {
	r := x.readiness()
	switch {
	case r.tailscale() && r.cloudflare():
		return fail(ExitFail, "parachute expose public: both Tailscale Funnel and Cloudflare Tunnel are set up; pick one:\n"+
			"  parachute expose public --tailnet\n  parachute expose public --cloudflare --domain <hostname>\n"+
			"(or --skip-provider-check for Tailscale Funnel without the readiness check)")
	case r.tailscale():
		x.logf("Auto-detected Tailscale Funnel as the only configured provider.\n")
		return x.tailscaleUp("public")
	case r.cloudflare():
		return fail(ExitFail, "parachute expose public: Cloudflare Tunnel is the only configured provider, but `--domain <hostname>` is required:\n"+
			"  parachute expose public --cloudflare --domain <hostname>")
	}
	return fail(ExitFail, "parachute expose public: no exposure provider is set up on this machine.\n\n"+
		"Option A — Tailscale Funnel (free, *.ts.net URL, no domain needed):\n%s\n"+
		"Option B — Cloudflare Tunnel (your own domain on Cloudflare DNS):\n%s\n"+
		"To try Funnel without this check: parachute expose public --skip-provider-check", r.tailscaleSteps(), r.cloudflareSteps())
}

// pick is the interactive provider picker (§6.4); preselect skips the
// question.
func (x *exposer) pick(preselect state.Provider) error {
	in := bufio.NewReader(x.host.stdin)
	r := x.readiness()
	choice := preselect
	if choice == "" {
		def := state.Tailscale
		switch {
		case r.tailscale() && r.cloudflare():
			if last := state.LoadLastProvider(x.paths.Root); last != "" {
				def = last
			}
			x.logf("Which provider?\n")
		case r.tailscale():
			x.logf("Using Tailscale Funnel (Cloudflare Tunnel is also available with `--cloudflare`).\n")
			choice = state.Tailscale
		case r.cloudflare():
			x.logf("Using Cloudflare Tunnel. It serves the hub on a hostname of your own domain.\n")
			choice = state.Cloudflare
		default:
			x.logf("Neither Tailscale nor Cloudflare is set up. Which would you like to use?\n")
		}
		if choice == "" {
			n := map[state.Provider]string{state.Tailscale: "1", state.Cloudflare: "2"}[def]
			x.logf("  [1] Tailscale Funnel  (free, *.ts.net URL, no domain needed)\n  [2] Cloudflare Tunnel (your own domain, Cloudflare DNS)\n  [q] quit  (default on enter: [%s] %s)\n", n, def)
			for tries := 0; choice == ""; tries++ {
				if tries == 5 {
					x.logf("Too many invalid entries; aborting.\n")
					return nil
				}
				x.logf("> ")
				line, ok := readAnswer(in)
				switch strings.ToLower(line) {
				case "":
					if !ok {
						x.logf("\nNothing exposed.\n")
						return nil
					}
					choice = def
				case "1", "tailscale", "t":
					choice = state.Tailscale
				case "2", "cloudflare", "c":
					choice = state.Cloudflare
				case "q", "quit", "exit":
					x.logf("Nothing exposed.\n")
					return nil
				}
			}
		}
	}
	if choice == state.Tailscale {
		if !r.tailscale() {
			return fail(ExitFail, "Tailscale Funnel isn't ready yet:\n%sOnce those are done, re-run: parachute expose public", r.tailscaleSteps())
		}
		if err := x.tailscaleUp("public"); err != nil {
			return err
		}
		x.preflight(in)
		return nil
	}
	if !r.cloudflare() {
		return fail(ExitFail, "Cloudflare Tunnel isn't ready yet:\n%sAfter that, re-run: parachute expose public", r.cloudflareSteps())
	}
	for tries := 0; tries < 5; tries++ {
		x.logf("Hostname (or blank to quit): ")
		line, _ := readAnswer(in)
		if line == "" {
			x.logf("Nothing exposed.\n")
			return nil
		}
		if expose.ValidHostname(line) {
			if err := x.cloudflareUp(line); err != nil {
				return err
			}
			x.preflight(in)
			return nil
		}
		x.logf("%q doesn't look like a hostname. Expected something like vault.example.com.\n", line)
	}
	x.logf("Too many invalid entries; aborting.\n")
	return silent(ExitFail)
}

// publicOff is `expose public off` without --cloudflare (§6.9): tear down
// whichever public exposure is live, asking on a TTY when both are.
func (x *exposer) publicOff() error {
	st, err := state.Load(x.paths.Root)
	if err != nil {
		return fail(ExitFail, "✗ %v", err)
	}
	ts := st.Providers[state.Tailscale]
	tsLive := ts != nil && ts.Layer == state.LayerPublic && ts.Funnel && len(ts.Entries) > 0
	cf := st.Providers[state.Cloudflare]
	cfLive := cf != nil && len(cf.Tunnels) > 0
	doTS, doCF := tsLive, cfLive
	switch {
	case !tsLive && !cfLive:
		return x.nothing("public", "No public exposure active. Nothing to tear down.")
	case tsLive && cfLive && x.host.tty:
		var hosts []string
		for _, t := range cf.Tunnels {
			hosts = append(hosts, "https://"+t.Hostname)
		}
		x.logf("Two public exposures are live:\n  [1] Tailscale Funnel — https://%s\n  [2] Cloudflare Tunnel — %s\n  [3] both\n  [4] cancel\n", ts.CanonicalFQDN, strings.Join(hosts, ", "))
		in := bufio.NewReader(x.host.stdin)
		for tries := 0; ; tries++ {
			if tries == 5 {
				x.logf("Too many invalid entries; aborting.\n")
				return nil
			}
			x.logf("Tear down which? [3]: ")
			line, ok := readAnswer(in)
			switch strings.ToLower(line) {
			case "", "3", "both":
				if !ok && line == "" {
					x.logf("\nCancelled — no teardown.\n")
					return nil
				}
			case "1", "tailscale", "ts", "funnel":
				doCF = false
			case "2", "cloudflare", "cf":
				doTS = false
			case "4", "cancel", "q":
				x.logf("Cancelled — no teardown.\n")
				return nil
			default:
				continue
			}
			break
		}
	case tsLive && cfLive:
		x.logf("Both Tailscale Funnel and Cloudflare Tunnel are live; tearing down both.\n(Run on a terminal to choose one, or use `parachute expose public --cloudflare off`.)\n")
	}
	var tsErr, cfErr error
	x.batch = doTS && doCF
	if doTS {
		tsErr = x.tailscaleOff("public")
	}
	if doCF {
		// Run even when Tailscale failed; its code wins (§6.9).
		cfErr = x.cloudflareOff()
	}
	if x.batch {
		x.batch = false
		if err := x.finish(&exposeResult{Action: "off", Provider: "tailscale,cloudflare", Layer: "public"}); err != nil {
			return err
		}
	}
	if tsErr != nil {
		return tsErr
	}
	return cfErr
}
