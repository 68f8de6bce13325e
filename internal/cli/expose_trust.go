package cli

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/doctor"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/ratelimit"
)

// trustWarning is what an operator exposing the hub must know about client
// addresses. Why: Tailscale Serve and cloudflared connect to the hub from
// 127.0.0.1, and the hub believes their forwarding headers only from
// PARACHUTE_TRUSTED_PROXIES; without it every client through the exposure
// shares loopback's sign-in rate limit (one stranger can throttle the
// owner) and modules see 127.0.0.1 over http. It reads the running hub's
// environment where it can (Linux, our own user or root) and says nothing
// when the hub already trusts loopback.
func (x *exposer) trustWarning(provider string) string {
	advice := "set PARACHUTE_TRUSTED_PROXIES=127.0.0.1,::1"
	if provider == "cloudflare" {
		advice += " and PARACHUTE_CLIENT_IP_HEADER=CF-Connecting-IP"
	}
	advice += " in the hub's environment and restart it (`parachute restart hub`)"
	ctx, cancel := context.WithTimeout(x.ctx, 5*time.Second)
	defer cancel()
	if h, err := hubclient.New(x.paths).Health(ctx); err == nil && h.PID > 0 {
		// /proc/<pid>/environ: readable for our own user's hub, or any as
		// root; where there is no /proc the general advice below stands.
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(h.PID) + "/environ"); err == nil {
			if trustsLoopback(doctor.ParseEnviron(b)) {
				return ""
			}
			return "the hub sees every request through this exposure as coming from 127.0.0.1, so all its clients share one " +
				"sign-in rate limit and modules see 127.0.0.1 over http: " + advice
		}
	}
	return "unless the hub already runs with PARACHUTE_TRUSTED_PROXIES=127.0.0.1,::1, it sees every request through this " +
		"exposure as coming from 127.0.0.1 (one sign-in rate limit for all, modules see 127.0.0.1 over http): " + advice
}

// trustsLoopback reports whether env (KEY=value lines, the last assignment
// winning) makes the hub believe forwarding headers from 127.0.0.1 and ::1.
func trustsLoopback(env []string) bool {
	v := ""
	for _, kv := range env {
		if val, ok := strings.CutPrefix(kv, ratelimit.EnvTrustedProxies+"="); ok {
			v = val
		}
	}
	prefixes, err := ratelimit.ParseTrustedProxies(v)
	if err != nil {
		return false
	}
	covers := func(a netip.Addr) bool {
		return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	return covers(netip.MustParseAddr("127.0.0.1"))
}
