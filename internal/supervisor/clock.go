package supervisor

import "time"

// Clock is the time source of the restart policy: crash windows, backoff
// delays and the reset-after-uptime rule. Tests pass a fake to step through
// a crash sequence without sleeping. Readiness probing and stop grace are
// real-time waits on real processes and do not use it.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the supervisor needs.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }
