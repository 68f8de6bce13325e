package api

import "time"

// StartError tells why a module did not come up. Type is one of
// "missing_dependency", "started_but_unbound", "spawn_failed" or
// "exited_during_start". It is the API's copy of the supervisor's record,
// so clients need not import the supervisor.
type StartError struct {
	Type        string    `json:"error_type"`
	Description string    `json:"error_description"`
	Binary      string    `json:"binary,omitempty"`
	At          time.Time `json:"at"`
}

// State is a snapshot of one supervised module, as the start, stop and
// restart routes report it. Status is one of "starting", "running",
// "stopped", "crashed" or "restarting".
type State struct {
	Short            string      `json:"short"`
	Status           string      `json:"status"`
	PID              int         `json:"pid,omitempty"`
	StartedAt        *time.Time  `json:"startedAt,omitempty"`
	Restarts         int         `json:"restarts"`         // automatic restarts since the last explicit start
	RestartsInWindow int         `json:"restartsInWindow"` // crashes in the current window
	LastCrashAt      *time.Time  `json:"lastCrashAt,omitempty"`
	LastExitCode     *int        `json:"lastExitCode"` // nil when killed by a signal or never exited
	LastExitSignal   string      `json:"lastExitSignal,omitempty"`
	StartError       *StartError `json:"startError,omitempty"`
	Ready            bool        `json:"ready"` // readiness probe passed for the current process
	NextRestartAt    *time.Time  `json:"nextRestartAt,omitempty"`
	Cgroup           string      `json:"cgroup,omitempty"` // the live child's cgroup directory; "" = process group only
}
