package hub

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/origin"
)

// Origins knows which origins are this hub's own: the configured public
// origin (if any) and the loopback origins of the bound port. The operator
// token is accepted when its iss is any of them, so configuring a public
// origin can never lock the on-box CLI out (reference runtime.md §8.12).
type Origins struct {
	// Configured is the startup issuer: PARACHUTE_HUB_ORIGIN, then
	// RENDER_EXTERNAL_URL, then https://<FLY_APP_NAME>.fly.dev. May be empty.
	Configured string
	// Port is the hub's bound port.
	Port int
	// ExtraHosts are additional Host header values accepted by the API
	// (PARACHUTE_ALLOWED_HOSTS, comma-separated).
	ExtraHosts []string
	// Setting returns hub_settings.hub_origin, the admin's choice; nil
	// (until hub.db has the table) means unset. It outranks Configured.
	Setting func() string
	// Exposed returns the origins of live exposures (expose-state.json,
	// read through a state.Watcher so `parachute expose` takes effect
	// without a restart); nil means none. Configured outranks them.
	Exposed func() []string
	// Override returns the origin a live exposure was made with
	// (`parachute expose --hub-origin`, recorded in expose-state.json);
	// "" or nil means none. It outranks everything (origin.Inputs.Flag).
	Override func() string
}

// OriginsFromEnv builds Origins for a hub bound on port.
func OriginsFromEnv(port int) Origins {
	o := Origins{Configured: config.ConfiguredIssuer(os.Getenv), Port: port}
	for _, h := range strings.Split(os.Getenv("PARACHUTE_ALLOWED_HOSTS"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			o.ExtraHosts = append(o.ExtraHosts, strings.ToLower(h))
		}
	}
	return o
}

// Loopback is the hub's own loopback origin, http://127.0.0.1:<port>.
func (o Origins) Loopback() string { return "http://127.0.0.1:" + strconv.Itoa(o.Port) }

// inputs are the origin package's inputs for this hub. Configured (the
// environment-derived startup issuer) is passed as PARACHUTE_HUB_ORIGIN:
// ConfiguredIssuer already applied the environment's own precedence.
func (o Origins) inputs() origin.Inputs {
	in := origin.Inputs{Port: o.Port, Getenv: func(k string) string {
		if k == "PARACHUTE_HUB_ORIGIN" {
			return o.Configured
		}
		return ""
	}}
	if o.Setting != nil {
		in.Setting = o.Setting()
	}
	if o.Exposed != nil {
		in.Exposed = o.Exposed()
	}
	if o.Override != nil {
		in.Flag = o.Override()
	}
	return in
}

// Issuer is the one issuer this hub mints tokens with and hands to its
// children as PARACHUTE_HUB_ORIGIN: hub_settings.hub_origin, the configured
// origin, the exposed origin, else loopback (origin.Resolve). One source
// for both, so a module sees the same iss however it was started
// (reference runtime.md §8.11).
func (o Origins) Issuer() string { return origin.Resolve(o.inputs()).URL }

// StableIssuer is Issuer without the exposure: the iss of the on-box
// operator token. Why: that token outlives exposures; minted as a tailnet
// origin it would stop verifying the moment `expose off` removed that
// origin from Accepted, locking the CLI out of its own hub.
func (o Origins) StableIssuer() string {
	o.Exposed, o.Override = nil, nil
	return o.Issuer()
}

// Accepted lists every iss value the hub accepts on its own tokens: every
// origin that applies plus the loopback spellings (origin.Issuers), so
// neither an exposure nor a configured origin locks the on-box CLI out.
func (o Origins) Accepted() []string { return origin.Issuers(o.inputs()) }

// hostAllowed reports whether a request's Host header names this hub. It is
// the DNS-rebinding guard: a browser tricked into resolving evil.example to
// 127.0.0.1 still sends Host: evil.example.
func (o Origins) hostAllowed(host string) bool {
	host = strings.ToLower(host)
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		h, port = strings.Trim(host, "[]"), ""
	}
	switch h {
	case "127.0.0.1", "localhost", "::1":
		return port == "" || port == strconv.Itoa(o.Port)
	}
	// Every non-loopback origin we answer to (configured, setting,
	// exposed): Tailscale Serve and cloudflared forward the public Host.
	for _, a := range o.Accepted() {
		if u, err := url.Parse(a); err == nil && (strings.EqualFold(u.Host, host) || strings.EqualFold(u.Hostname(), host)) {
			return true
		}
	}
	for _, x := range o.ExtraHosts {
		if x == host || x == h {
			return true
		}
	}
	return false
}

// originAllowed reports whether a browser Origin header is one of ours.
func (o Origins) originAllowed(origin string) bool {
	origin = strings.TrimRight(strings.ToLower(origin), "/")
	for _, a := range o.Accepted() {
		if strings.ToLower(a) == origin {
			return true
		}
	}
	return false
}
