package modops

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/supervisor"
)

// ErrNoStartCmd means a registered module has no command the hub can run:
// not a first-party module, and no startCmd in its module.json.
var ErrNoStartCmd = errors.New("no start command")

// BuildSpec turns a services.json row into a spawn request. It is the one
// place that decides a child's argv, env and cwd, and it reads everything
// from disk each time, so an edited .env, port or installDir takes effect on
// the next start or restart (reference runtime.md §8.10–11).
func (m *Manager) BuildSpec(svc manifest.Service) (supervisor.Spec, []string, error) {
	short := manifest.ShortName(svc.Name)
	envFile := m.paths.ModuleEnv(short)
	// Why: whoever can write the root, services.json or the .env chooses
	// what this hub runs and with which environment (LD_PRELOAD, say); a
	// root hub must not run modules from a root other users can change.
	warnings, err := m.paths.CheckTrust(envFile)
	if err != nil {
		return supervisor.Spec{}, nil, fmt.Errorf("%s: %w", short, err)
	}
	var argv []string
	if k, ok := manifest.KnownByShort(short); ok && len(k.Cmd) > 0 {
		argv = append([]string(nil), k.Cmd...)
	}
	if argv == nil && svc.InstallDir != "" {
		mod, err := manifest.LoadModule(svc.InstallDir)
		if err != nil {
			return supervisor.Spec{}, nil, fmt.Errorf("%s: %w", short, err)
		}
		argv = append([]string(nil), mod.StartCmd...)
	}
	if len(argv) == 0 {
		where := "services.json row has no installDir"
		if svc.InstallDir != "" {
			where = svc.InstallDir + "/.parachute/module.json has no startCmd"
		}
		return supervisor.Spec{}, nil, fmt.Errorf("%s: %w (%s)", short, ErrNoStartCmd, where)
	}

	vars, err := manifest.LoadEnv(envFile)
	if err != nil {
		return supervisor.Spec{}, nil, fmt.Errorf("%s: reading %s: %w", short, envFile, err)
	}
	issuer := m.Issuer()
	env := childEnv(os.Environ(), svc.Port, issuer, vars, func(k string) {
		why := "services.json decides it"
		if managerEnv[k] {
			why = "it belongs to the service manager and the hub, never to a module"
		}
		warnings = append(warnings, fmt.Sprintf("%s: ignoring %s from %s — %s; remove that line", short, k, envFile, why))
	}, func(v string) {
		warnings = append(warnings, fmt.Sprintf("%s: %s sets PARACHUTE_HUB_ORIGIN=%s, overriding the hub's origin %s; "+
			"tokens the hub mints carry iss %s, so the module may reject them — remove that line unless the module "+
			"really is reached at %s", short, envFile, v, issuer, issuer, v))
	})

	spec := supervisor.Spec{
		Short: short,
		Argv:  argv,
		Env:   env,
		Dir:   svc.InstallDir,
		Port:  svc.Port,
	}
	if p := svc.Supervise; p != nil {
		spec.Policy.MaxCrashes = p.MaxCrashes
		spec.Policy.Window = seconds(p.CrashWindowSeconds)
		spec.Policy.StopGrace = seconds(p.StopGraceSeconds)
		spec.Policy.ReadyTimeout = seconds(p.ReadyTimeoutSeconds)
	}
	return spec, warnings, nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// managerEnv are variables a service manager (systemd, or launchd's and
// inetd-style socket activation) sets for the one process it started: the
// hub. They are stripped from every child's environment, whether inherited
// from the hub or written in a module's .env:
//   - NOTIFY_SOCKET: a child could send READY=1, WATCHDOG=1 or STOPPING=1
//     on the hub's behalf (systemd accepts it with NotifyAccess=all, and a
//     module that speaks sd_notify would lie about the hub's readiness);
//   - WATCHDOG_USEC/WATCHDOG_PID: a module would think it is watched;
//   - LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES: a socket-activation-aware
//     module would try to take over descriptors that are the hub's;
//   - INVOCATION_ID, JOURNAL_STREAM, MANAGERPID, SYSTEMD_EXEC_PID, MAINPID:
//     they describe the hub's own unit and log stream, not the module's;
//   - supervisor.DelegationEnv: the unit's "your cgroup is delegated"
//     marker is the hub's; a module is a leaf and must not act on it.
//
// Only these exact names: other LISTEN_* or WATCHDOG_* names (LISTEN_ADDR,
// say) are ordinary module settings.
var managerEnv = map[string]bool{
	"NOTIFY_SOCKET": true, "WATCHDOG_USEC": true, "WATCHDOG_PID": true,
	"LISTEN_FDS": true, "LISTEN_PID": true, "LISTEN_FDNAMES": true,
	"INVOCATION_ID": true, "JOURNAL_STREAM": true, "MANAGERPID": true,
	"SYSTEMD_EXEC_PID": true, "MAINPID": true,
	supervisor.DelegationEnv: true,
}

// hubSecret reports variables of the hub's own environment that are the
// hub's secrets, never a module's: the first admin's seed credentials
// (a Fly or Render secret set for the hub) and the Cloudflare API token
// `expose off` uses. Every module would otherwise inherit them, and any
// module, first- or third-party, could read the admin's password. A
// module that needs one of these names sets it in its own .env.
func hubSecret(key string) bool {
	switch key {
	case "PARACHUTE_INITIAL_ADMIN_USERNAME", "PARACHUTE_INITIAL_ADMIN_PASSWORD", "CLOUDFLARE_API_TOKEN":
		return true
	}
	return false
}

// childEnv is the hub's environment (without hubSecret names), then PORT, then PARACHUTE_HUB_ORIGIN
// (the hub's issuer), then the module's .env. PORT in .env is ignored
// (reported through ignored): services.json owns the port. A
// PARACHUTE_HUB_ORIGIN in .env that differs from the issuer is honoured —
// an operator may front one module differently — but reported through
// overridden, because tokens the hub mints carry the hub's issuer. The
// service manager's variables (managerEnv) are dropped from both sources;
// those in .env are reported through ignored too.
func childEnv(base []string, port int, issuer string, vars []manifest.EnvVar, ignored func(key string), overridden func(value string)) []string {
	m := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := m[k]; !ok {
			order = append(order, k)
		}
		m[k] = v
	}
	for _, kv := range base {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || managerEnv[k] || hubSecret(k) {
			continue
		}
		set(k, v)
	}
	if port > 0 {
		set("PORT", fmt.Sprint(port))
	}
	if issuer != "" {
		set("PARACHUTE_HUB_ORIGIN", issuer)
	}
	for _, v := range vars {
		if v.Key == "PORT" || managerEnv[v.Key] {
			if ignored != nil {
				ignored(v.Key)
			}
			continue
		}
		if v.Key == "PARACHUTE_HUB_ORIGIN" && overridden != nil &&
			strings.TrimRight(v.Value, "/") != strings.TrimRight(issuer, "/") {
			overridden(v.Value)
		}
		set(v.Key, v.Value)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+m[k])
	}
	return out
}
