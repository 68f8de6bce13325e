// Package unit describes the hub as a platform-neutral service (argv,
// environment, scope, restart policy, crash-loop ceiling) and renders that
// description as a systemd unit or a launchd plist.
//
// The same model produces the files the CLI installs (HubService, RenderKind)
// and the files the packages ship (Artifacts, written to packaging/ by
// `go generate ./internal/unit`), so the two cannot drift apart. Rendering is
// pure: nothing here touches the service manager; installing, enabling and
// lingering belong to the servicemgr package.
package unit

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openparachute/parachute/internal/lazyre"
)

// Identities of the hub unit, shared with the reference hub so a box can
// switch implementations and keep its unit.
const (
	// SystemdName is the hub's systemd unit name.
	SystemdName = "parachute-hub.service"
	// LaunchdLabel is the hub's launchd job label.
	LaunchdLabel = "computer.parachute.hub"
)

// DelegationEnv is set to "1" in a unit with Delegate=yes. Why: systemd
// 252's user manager does not mark delegated cgroups (the system manager
// sets the user.delegate xattr), and every cgroup of the user is writable
// by the user, so the service could not otherwise tell. It must equal
// supervisor.DelegationEnv (unit renders without importing the
// supervisor; the systemd-box e2e proves the two agree).
const DelegationEnv = "PARACHUTE_CGROUP_DELEGATED"

// Exit codes of `parachute serve`: a documented protocol between the hub and
// the service manager.
const (
	// ExitFailure is any runtime failure, e.g. the port is already in use.
	// The manager restarts the hub, within the crash-loop ceiling.
	ExitFailure = 1
	// ExitConfig (EX_CONFIG from sysexits.h) means the hub's configuration is
	// invalid (bad PORT or bind address): restarting cannot help, so the
	// systemd unit lists it in RestartPreventExitStatus=. A malformed
	// services.json is not fatal and does not use this code.
	ExitConfig = 78
)

// Scope says whose service manager runs the unit.
type Scope int

const (
	// ScopeUser is a per-user unit: systemd --user, a launchd LaunchAgent.
	// It is the zero value, so a forgotten scope never asks for root.
	ScopeUser Scope = iota
	// ScopeSystem is a system unit run by PID 1's manager (systemd) or a
	// launchd LaunchDaemon; it may drop to Service.User.
	ScopeSystem
)

// String names the scope for messages.
func (s Scope) String() string {
	switch s {
	case ScopeUser:
		return "user"
	case ScopeSystem:
		return "system"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// EnvVar is one environment variable of the service. Order matters: it is
// the order of the Environment= lines.
type EnvVar struct {
	Name  string
	Value string
	// Specifiers marks a Value written in systemd specifier syntax (e.g.
	// "%h/.parachute" in the packaged user unit): it goes into the unit as
	// is, so its % specifiers expand. Every other value is literal and its
	// '%' is escaped as "%%". launchd has no specifiers, so RenderLaunchd
	// rejects such a variable.
	Specifiers bool
}

// CrashCeiling bounds a crash loop: the manager gives up after Burst starts
// within Interval (systemd StartLimitBurst/StartLimitIntervalSec). launchd
// has no such limit, only a minimum time between spawns: Throttle
// (ThrottleInterval).
type CrashCeiling struct {
	Burst    int
	Interval time.Duration
	Throttle time.Duration
}

// Service is a platform-neutral description of one long-running service.
// Optional parts are only rendered when set.
type Service struct {
	// Name is the systemd unit name, e.g. "parachute-hub.service".
	Name string
	// Label is the launchd job label, e.g. "computer.parachute.hub".
	Label string
	// Header is a comment line at the top of the rendered file.
	Header string
	// Description is the one-line human description.
	Description string
	// Argv is the command; Argv[0] must be an absolute path.
	Argv []string
	// Env is the environment, in order.
	Env []EnvVar
	// Scope is user or system.
	Scope Scope
	// User and Group are the account a system unit runs as (systemd User=
	// and Group=, launchd UserName and GroupName). Ignored for user scope.
	User, Group string
	// WorkingDir is the service's working directory ("" = the manager's
	// default). The installer must create it first.
	WorkingDir string
	// StateDirectory is a systemd StateDirectory= name under /var/lib that
	// systemd creates (mode 0750) and owns to User. Used by the packaged unit.
	StateDirectory string
	// LogFile is where launchd writes stdout and stderr. systemd sends them
	// to the journal instead. The installer must create its directory:
	// launchd does not.
	LogFile string
	// Notify says the service reports readiness with sd_notify READY=1
	// (systemd Type=notify); Watchdog > 0 adds WatchdogSec=.
	Notify   bool
	Watchdog time.Duration
	// RestartDelay is the pause before a restart after a failure (systemd
	// RestartSec=).
	RestartDelay time.Duration
	// RestartAlways restarts the service whenever it exits, cleanly or not
	// (systemd Restart=always, launchd KeepAlive=true). Without it a clean
	// exit or a SIGTERM leaves it stopped (Restart=on-failure), which is
	// right for the hub but not for a tunnel connector: cloudflared exits 0
	// on SIGTERM, and a connector that stays down takes the site with it.
	RestartAlways bool
	// NoRestartExitCodes are exit codes that mean "do not restart"
	// (systemd RestartPreventExitStatus=).
	NoRestartExitCodes []int
	// StopTimeout is how long the manager waits after SIGTERM before
	// SIGKILL (systemd TimeoutStopSec=, launchd ExitTimeOut).
	StopTimeout time.Duration
	// KillMode is systemd's KillMode= ("" = systemd's default).
	KillMode string
	// Delegate hands the unit's cgroup subtree to the service (systemd
	// Delegate=yes), so it can give each child a cgroup of its own, and
	// sets DelegationEnv=1 to tell the service so. It drops
	// ProtectControlGroups= from the hardening: a read-only cgroup file
	// system would forbid exactly that. launchd has no cgroups: ignored.
	Delegate bool
	// Ceiling is the crash-loop ceiling; nil renders no limit lines.
	Ceiling *CrashCeiling
	// Hardening adds systemd sandboxing to a system unit: NoNewPrivileges,
	// ProtectSystem=strict with WritablePaths, PrivateTmp and friends.
	Hardening bool
	// WritablePaths stay writable under ProtectSystem=strict. A leading '-'
	// marks a path that may be missing (systemd's own syntax).
	WritablePaths []string
	// ProcessType is launchd's ProcessType ("" = launchd's default).
	ProcessType string
}

var (
	envNameRE  = &lazyre.Regexp{Expr: `^[A-Za-z_][A-Za-z0-9_]*$`}
	unitNameRE = &lazyre.Regexp{Expr: `^[A-Za-z0-9:_.\\@-]+\.service$`}
	// Account names as systemd accepts them in its relaxed mode, minus the
	// characters that would need escaping in a unit file.
	accountRE  = &lazyre.Regexp{Expr: `^[A-Za-z0-9_][A-Za-z0-9_.-]*$`}
	stateDirRE = &lazyre.Regexp{Expr: `^[A-Za-z0-9_][A-Za-z0-9_.-]*$`}
)

// checkText rejects what no unit file or plist can carry: invalid UTF-8 and
// control characters. A newline would end the systemd line (and inject the
// next one); XML 1.0 forbids most control characters outright.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q contains a control character (%U), which a unit file cannot carry", what, s, r)
		}
	}
	return nil
}

// checkAbs requires an absolute, clean-able path without control characters.
func checkAbs(what, p string) error {
	if err := checkText(what, p); err != nil {
		return err
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%s %q is not an absolute path", what, p)
	}
	return nil
}

// Validate checks the parts every renderer relies on.
func (s Service) Validate() error {
	var errs []error
	if !unitNameRE.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("unit name %q is not a valid systemd service name", s.Name))
	}
	if err := checkText("label", s.Label); err != nil || s.Label == "" || strings.ContainsAny(s.Label, "/ ") {
		errs = append(errs, fmt.Errorf("launchd label %q is empty or not a reverse-DNS name", s.Label))
	}
	for _, f := range []struct{ what, v string }{{"description", s.Description}, {"header", s.Header}} {
		if err := checkText(f.what, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	if len(s.Argv) == 0 {
		errs = append(errs, errors.New("argv is empty"))
	} else {
		if err := checkAbs("program", s.Argv[0]); err != nil {
			errs = append(errs, err)
		}
		// systemd refuses an executable path holding quotes or a
		// backslash ("contains special characters"), and it expands $VAR
		// in arguments but executes the path as written, so no quoting
		// makes a '$' there mean the same to both. Refuse all four rather
		// than render a unit that will not load or runs another file.
		if strings.ContainsAny(s.Argv[0], `"'\$`) {
			errs = append(errs, fmt.Errorf("program path %q contains a quote, backslash or '$', which systemd cannot run", s.Argv[0]))
		}
		for _, a := range s.Argv[1:] {
			if err := checkText("argument", a); err != nil {
				errs = append(errs, err)
			}
		}
	}
	seen := map[string]bool{}
	for _, e := range s.Env {
		if !envNameRE.MatchString(e.Name) {
			errs = append(errs, fmt.Errorf("environment name %q is not a valid variable name", e.Name))
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("environment variable %s is set twice", e.Name))
		}
		seen[e.Name] = true
		if err := checkText("value of "+e.Name, e.Value); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range []struct{ what, v string }{{"user", s.User}, {"group", s.Group}} {
		if f.v != "" && !accountRE.MatchString(f.v) {
			errs = append(errs, fmt.Errorf("%s %q is not a valid account name", f.what, f.v))
		}
	}
	for _, f := range []struct{ what, v string }{{"working directory", s.WorkingDir}, {"log file", s.LogFile}} {
		if f.v == "" {
			continue
		}
		if err := checkAbs(f.what, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	if s.StateDirectory != "" && !stateDirRE.MatchString(s.StateDirectory) {
		errs = append(errs, fmt.Errorf("state directory %q is not a plain directory name", s.StateDirectory))
	}
	for _, p := range s.WritablePaths {
		if err := checkAbs("writable path", strings.TrimPrefix(p, "-")); err != nil {
			errs = append(errs, err)
		}
	}
	if c := s.Ceiling; c != nil && (c.Burst < 1 || c.Interval <= 0) {
		errs = append(errs, fmt.Errorf("crash ceiling needs a positive burst and interval, got %d in %s", c.Burst, c.Interval))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid service %s: %w", s.Name, err)
	}
	return nil
}
