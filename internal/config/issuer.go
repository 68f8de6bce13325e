package config

import (
	"errors"

	"github.com/openparachute/parachute/internal/origin"
)

// ErrNoOperatorToken means the operator token file (Paths.OperatorToken)
// is missing or empty. It is declared here, next to the file's path, so
// the hub's token reader (internal/auth) and the CLI's (internal/hubclient)
// return the same sentinel.
var ErrNoOperatorToken = errors.New("no operator token")

// ConfiguredIssuer derives the hub's startup issuer from the environment,
// with getenv (os.Getenv, or a test's map): PARACHUTE_HUB_ORIGIN, else
// RENDER_EXTERNAL_URL, else a Fly app's https://<app>.fly.dev; "" when none
// is set (the hub then issues as its loopback origin). The precedence lives
// in internal/origin, with the inputs the environment cannot supply.
func ConfiguredIssuer(getenv func(string) string) string {
	return origin.Configured(origin.Inputs{Getenv: getenv})
}
