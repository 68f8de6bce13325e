package modops

import "github.com/openparachute/parachute/internal/manifest"

// ModuleEnviron is the environment the hub gives a module (childEnv): base
// without the service manager's variables, then PORT, then
// PARACHUTE_HUB_ORIGIN=issuer, then the module's .env vars (whose PORT and
// service-manager lines are dropped). `parachute vault` runs
// parachute-vault with it, so the CLI sees what the served vault sees.
func ModuleEnviron(base []string, port int, issuer string, vars []manifest.EnvVar) []string {
	return childEnv(base, port, issuer, vars, nil, nil)
}
