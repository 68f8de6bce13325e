// Package api holds the JSON shapes of the hub's HTTP API, shared by the
// server (internal/hub) and its clients (internal/hubclient, the CLI).
package api

import "time"

// Health is the result of probing a module's health path.
type Health struct {
	// OK means the module is up: it answered 2xx or 3xx, or 401/403 (up,
	// and asking for credentials the probe does not send). No answer, a
	// timeout, a 5xx or another 4xx (e.g. 404: a wrong health path) is not.
	OK bool `json:"ok"`
	// StatusCode is the HTTP status of the answer; 0 when there was none.
	StatusCode int     `json:"status_code,omitempty"`
	LatencyMS  float64 `json:"latency_ms"`
	URL        string  `json:"url"`
	Error      string  `json:"error,omitempty"`
}

// ModuleInfo is one element of GET /api/modules: the reference fields
// (snake_case) plus the supervisor's view of every registered module.
type ModuleInfo struct {
	Short            string      `json:"short"`
	Name             string      `json:"name"`
	Package          string      `json:"package,omitempty"`
	DisplayName      string      `json:"display_name,omitempty"`
	Tagline          string      `json:"tagline,omitempty"`
	Available        bool        `json:"available"`
	Installed        bool        `json:"installed"`
	InstalledVersion *string     `json:"installed_version"`
	Port             int         `json:"port,omitempty"`
	Paths            []string    `json:"paths,omitempty"`
	InstallDir       *string     `json:"install_dir"`
	SupervisorStatus *string     `json:"supervisor_status"`
	PID              *int        `json:"pid"`
	Restarts         int         `json:"restarts"`
	RestartsInWindow int         `json:"restarts_in_window"`
	LastExitCode     *int        `json:"last_exit_code"`
	LastExitSignal   string      `json:"last_exit_signal,omitempty"`
	StartedAt        *time.Time  `json:"started_at"`
	UptimeS          *int64      `json:"uptime_s"`
	Ready            bool        `json:"ready"`
	StartError       *StartError `json:"supervisor_start_error"`
	// MemoryBytes and CPUSeconds are a running module's resource use, from
	// its cgroup (or its process group's live members); absent when unknown.
	MemoryBytes *int64   `json:"memory_bytes,omitempty"`
	CPUSeconds  *float64 `json:"cpu_seconds,omitempty"`
	// Cgroup is the running module's cgroup directory, when it has one.
	Cgroup string  `json:"cgroup,omitempty"`
	Health *Health `json:"health,omitempty"`
}

// ModulesResponse is the body of GET /api/modules.
type ModulesResponse struct {
	Modules              []ModuleInfo `json:"modules"`
	SupervisorAvailable  bool         `json:"supervisor_available"`
	ModuleInstallChannel string       `json:"module_install_channel"`
	Warnings             []string     `json:"warnings,omitempty"`
}

// HealthResponse is the body of GET /health.
type HealthResponse struct {
	Status    string `json:"status"`
	Service   string `json:"service"`
	Version   string `json:"version"`
	PID       int    `json:"pid"`
	StartedAt string `json:"started_at"`
	UptimeS   int64  `json:"uptime_s"`
}

// StateBody is the body of POST /api/modules/<short>/{start,stop,restart},
// on success and on failure. On failure the embedded Error adds the usual
// {error, error_description} members next to the module's state.
type StateBody struct {
	Short    string   `json:"short"`
	Stopped  *bool    `json:"stopped,omitempty"`
	State    *State   `json:"state,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	*Error
}

// LogsResponse is the body of GET /api/modules/<short>/logs.
type LogsResponse struct {
	Short string   `json:"short"`
	Lines []string `json:"lines"`
	Text  string   `json:"text"`
}
