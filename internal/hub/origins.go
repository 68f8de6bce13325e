package hub

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/config"
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

// Issuer is the one issuer this hub mints tokens with and hands to its
// children as PARACHUTE_HUB_ORIGIN: the configured origin, else loopback.
// One source for both, so a module sees the same iss however it was started
// (reference runtime.md §8.11).
func (o Origins) Issuer() string {
	if o.Configured != "" {
		return o.Configured
	}
	return o.Loopback()
}

// Accepted lists every iss value the hub accepts on its own tokens.
func (o Origins) Accepted() []string {
	p := strconv.Itoa(o.Port)
	out := []string{"http://127.0.0.1:" + p, "http://localhost:" + p, "http://[::1]:" + p}
	if o.Configured != "" {
		out = append(out, o.Configured)
	}
	return out
}

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
	if o.Configured != "" {
		if u, err := url.Parse(o.Configured); err == nil && strings.EqualFold(u.Host, host) {
			return true
		}
		if u, err := url.Parse(o.Configured); err == nil && strings.EqualFold(u.Hostname(), host) {
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
