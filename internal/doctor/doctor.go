// Package doctor finds out why something does not work: it looks at the
// hub unit and its last failure, the environment modules really get under
// the service manager (against the operator's shell), lingering, port
// holders, disk space and log sizes, the operator token, the hub's origin
// and issuer, and the exposure state against what tailscale and cloudflared
// report. Each finding says what was seen and the exact command that fixes
// it.
//
// Checks are small functions over Probes, a struct of funcs for everything
// that touches the machine (the service manager, exec, ports, the hub's
// HTTP API), so tests plant a problem by swapping one probe. HostProbes
// builds the real ones. Nothing here prints: `parachute doctor` in
// internal/cli does.
package doctor

import (
	"context"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/ports"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// Severity orders findings: an Error makes `parachute doctor` exit 1.
type Severity string

// Severities, mildest first.
const (
	OK    Severity = "ok"
	Info  Severity = "info"
	Warn  Severity = "warn"
	Error Severity = "error"
)

// Finding is one thing doctor saw.
type Finding struct {
	// Check names the check, e.g. "hub-unit", "module-path", "token".
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	// Seen says what was found, in one sentence.
	Seen string `json:"seen"`
	// Detail holds supporting lines (a journal tail, two PATHs).
	Detail []string `json:"detail,omitempty"`
	// Fix is the command (or commands, one a line) to run; empty when
	// nothing needs doing.
	Fix string `json:"fix,omitempty"`
}

// Report is every finding, in check order.
type Report struct {
	Findings []Finding `json:"findings"`
	// OK is false when any finding is an Error.
	OK bool `json:"ok"`
}

// Probes is everything the checks read from the machine. A nil func means
// "cannot tell here"; the check that needs it says so or stays quiet.
type Probes struct {
	// Getenv reads the operator's (this process's) environment.
	Getenv func(string) string
	// User is the operator's login name (for loginctl).
	User string
	// EUID is this process's effective uid (the token's owner).
	EUID int

	// Kind is the service manager the hub unit lives in; UnitName its name.
	Kind     servicemgr.Kind
	UnitName string
	// UnitState reads the hub unit's state.
	UnitState func(ctx context.Context) (servicemgr.State, error)
	// Journal returns the hub unit's last n log lines.
	Journal func(ctx context.Context, n int) ([]string, error)
	// HubEnv is the environment the hub process, and therefore every module
	// it starts, runs with under the service manager; source says where it
	// was read ("the running hub (pid 42)", "the hub unit").
	HubEnv func(ctx context.Context, st servicemgr.State) (env []string, source string, err error)
	// Linger reports whether logind keeps the user's manager running
	// without a session (only asked for a user unit).
	Linger func(ctx context.Context, user string) (bool, error)

	// HubPort is the hub's port; HubURL its loopback base URL.
	HubPort int
	// Health asks the hub's /health.
	Health func(ctx context.Context) error
	// TokenCheck presents the operator token to the hub (GET /api/me); an
	// error means the hub refused it or could not be asked.
	TokenCheck func(ctx context.Context) error
	// Issuer is the running hub's OAuth issuer (its
	// /.well-known/oauth-authorization-server).
	Issuer func(ctx context.Context) (string, error)

	// HolderOf names the process listening on a port; Listening says
	// whether anything does; ParentOf is a process's parent pid (0: none
	// or unknown).
	HolderOf  func(port int) (ports.Holder, bool)
	Listening func(port int) bool
	ParentOf  func(pid int) int
	// ChildArgvs is the command line of each child of a process, by pid
	// (nil: cannot tell here); it finds the connectors the hub runs.
	ChildArgvs func(pid int) (map[int][]string, error)

	// DiskFree reports the free and total bytes of the file system at path.
	DiskFree func(path string) (free, total uint64, err error)

	// LookPath finds a program on this process's PATH (tailscale,
	// cloudflared); Run runs one.
	LookPath func(name string) (string, error)
	Run      servicemgr.Runner
	// ConnectorState reads a Cloudflare connector unit's state.
	ConnectorState func(ctx context.Context, unit string, system bool) (servicemgr.State, error)
}

// Doctor runs the checks over one config root.
type Doctor struct {
	Paths  config.Paths
	Probes Probes
	// Timeout bounds each check that talks to something (default 5 s).
	Timeout time.Duration
}

// check is one diagnosis; it appends its findings to r.
type check func(ctx context.Context, d *Doctor, r *run)

// run is one doctor run's shared state: the findings so far and what
// earlier checks learned that later ones need.
type run struct {
	findings []Finding
	unit     servicemgr.State
	unitErr  error
	// unitInstalled: the hub unit exists, so modules run under the manager.
	unitInstalled bool
	hubUp         bool
	hubEnv        []string // nil: not known
}

func (r *run) add(f Finding) { r.findings = append(r.findings, f) }

// checks run in this order: later ones use what earlier ones learned (the
// unit's state, whether the hub answers, the hub's environment).
var checks = []check{
	checkHubUnit,
	checkHub,
	checkModuleEnv,
	checkLinger,
	checkPorts,
	checkDisk,
	checkLogs,
	checkToken,
	checkOrigin,
	checkExposure,
}

// Run runs every check and returns the report.
func (d *Doctor) Run(ctx context.Context) Report {
	if d.Timeout == 0 {
		d.Timeout = 5 * time.Second
	}
	r := &run{}
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, d.Timeout)
		c(cctx, d, r)
		cancel()
	}
	rep := Report{Findings: r.findings, OK: true}
	for _, f := range rep.Findings {
		if f.Severity == Error {
			rep.OK = false
		}
	}
	return rep
}

// getenv is the operator's environment lookup, never nil.
func (d *Doctor) getenv(k string) string {
	if d.Probes.Getenv == nil {
		return ""
	}
	return d.Probes.Getenv(k)
}

// scopeFlag is " --user" for user units, for commands in fixes.
func scopeFlag(k servicemgr.Kind) string {
	if k == servicemgr.KindSystemdUser {
		return " --user"
	}
	return ""
}

// shellArg quotes s for a POSIX shell when it holds anything but
// characters that never need it, so a fix naming a path under a config
// root with a space in it runs on that path and no other (a bare
// `rm /a b/operator.token` would remove /a and b/operator.token).
func shellArg(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
