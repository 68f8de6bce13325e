package modops

import "github.com/openparachute/parachute/internal/supervisor"

// Running implements install.RunningChecker: short runs under this hub's
// supervisor (starting, running, or waiting out a crash backoff). The
// installer restarts such a module after changing its configuration, so
// it reads the new values; a stopped or crashed one reads them at its
// next start anyway.
func (rt runtime) Running(short string) bool {
	st, ok := rt.m.sup.Get(short)
	if !ok {
		return false
	}
	switch st.Status {
	case supervisor.StatusStarting, supervisor.StatusRunning, supervisor.StatusRestarting:
		return true
	}
	return false
}
