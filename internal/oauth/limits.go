package oauth

import (
	"net/http"
	"time"

	"github.com/openparachute/parachute/internal/ratelimit"
)

// Default per-client limits. The reference limits none of these (server.md
// §4d): DCR rows could be created without bound and refresh tokens or
// client secrets guessed as fast as the hub answers. The token limit is
// generous (a burst of 120, refilling 2 a second) because a tab or an MCP
// client refreshes far less often; registrations are rare by nature.
var (
	DefaultTokenLimit    = ratelimit.Config{Burst: 120, Per: time.Minute}
	DefaultRegisterLimit = ratelimit.Config{Burst: 20, Per: time.Hour}
)

// limiters holds the client keyer and one limiter per surface; nil
// limiters mean unlimited.
type limiters struct {
	keyer    *ratelimit.Keyer
	token    *ratelimit.Limiter // /oauth/token and /oauth/revoke
	register *ratelimit.Limiter // /oauth/register
}

func newLimiters(o Options) limiters {
	// The keyer is kept even without limits: the consent page's Secure
	// decision reads its trusted proxies.
	k := o.Keyer
	if k == nil {
		k, _ = ratelimit.NewKeyer(nil, "") // the peer address only; never fails
	}
	if o.NoRateLimit {
		return limiters{keyer: k}
	}
	tc, rc := DefaultTokenLimit, DefaultRegisterLimit
	if o.TokenLimit != nil {
		tc = *o.TokenLimit
	}
	if o.RegisterLimit != nil {
		rc = *o.RegisterLimit
	}
	tl, err1 := ratelimit.New(tc)
	rl, err2 := ratelimit.New(rc)
	if err1 != nil || err2 != nil {
		// A bad configuration must not switch limiting off.
		tl, _ = ratelimit.New(DefaultTokenLimit)
		rl, _ = ratelimit.New(DefaultRegisterLimit)
	}
	return limiters{keyer: k, token: tl, register: rl}
}

// limited wraps h with l's per-client limit: 429 with Retry-After when the
// client's bucket is empty.
func (s *Server) limited(l *ratelimit.Limiter, h http.HandlerFunc) http.HandlerFunc {
	if l == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		d := l.Allow(s.lim.keyer.Key(r))
		if !d.Allowed {
			w.Header().Set("Retry-After", d.RetryAfterSeconds())
			writeOAuthError(w, http.StatusTooManyRequests, "slow_down",
				"too many requests from this client; retry in "+d.RetryAfterSeconds()+" s")
			return
		}
		h(w, r)
	}
}
