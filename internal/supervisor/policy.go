package supervisor

import "time"

// Policy is a module's restart budget and timeouts. Zero fields take the
// values of DefaultPolicy.
type Policy struct {
	MaxCrashes   int           // crashes tolerated in Window; one more → StatusCrashed. Default 5.
	Window       time.Duration // sliding window for counting crashes; default 60s
	BackoffMin   time.Duration // delay after the second consecutive crash, default 500ms; doubles per further crash
	BackoffMax   time.Duration // cap on the restart delay, default 30s
	ResetAfter   time.Duration // a child up this long resets the backoff and crash count, default 60s
	StopGrace    time.Duration // SIGTERM→SIGKILL, default 5s
	ReadyTimeout time.Duration // readiness window, default 10s
}

// DefaultPolicy returns the defaults: 5 crashes per 60 s, the first restart
// at once and later ones after delays doubling from 500 ms to 30 s, reset
// after 60 s up, 5 s stop grace and a 10 s readiness window.
func DefaultPolicy() Policy {
	return Policy{
		MaxCrashes:   5,
		Window:       60 * time.Second,
		BackoffMin:   500 * time.Millisecond,
		BackoffMax:   30 * time.Second,
		ResetAfter:   60 * time.Second,
		StopGrace:    5 * time.Second,
		ReadyTimeout: 10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultPolicy.
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.MaxCrashes <= 0 {
		p.MaxCrashes = d.MaxCrashes
	}
	if p.Window <= 0 {
		p.Window = d.Window
	}
	if p.BackoffMin <= 0 {
		p.BackoffMin = d.BackoffMin
	}
	if p.BackoffMax <= 0 {
		p.BackoffMax = d.BackoffMax
	}
	if p.BackoffMax < p.BackoffMin {
		p.BackoffMax = p.BackoffMin
	}
	if p.ResetAfter <= 0 {
		p.ResetAfter = d.ResetAfter
	}
	if p.StopGrace <= 0 {
		p.StopGrace = d.StopGrace
	}
	if p.ReadyTimeout <= 0 {
		p.ReadyTimeout = d.ReadyTimeout
	}
	return p
}

// Backoff is the delay before the restart that follows the n-th consecutive
// crash (n >= 1): none for the first (a one-off crash costs only the
// module's own start, as with runit or pm2), then BackoffMin·2^(n-2),
// capped at BackoffMax, so a crash loop still backs off from the second
// crash on.
func (p Policy) Backoff(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := p.BackoffMin
	for i := 2; i < n; i++ {
		if d >= p.BackoffMax/2 {
			return p.BackoffMax
		}
		d *= 2
	}
	return min(d, p.BackoffMax)
}
