package config

import (
	"errors"
	"strings"
)

// ErrNoOperatorToken means the operator token file (Paths.OperatorToken)
// is missing or empty. It is declared here, next to the file's path, so
// the hub's token reader (internal/auth) and the CLI's (internal/hubclient)
// return the same sentinel.
var ErrNoOperatorToken = errors.New("no operator token")

// ConfiguredIssuer derives the hub's startup issuer from the environment,
// with getenv (os.Getenv, or a test's map): PARACHUTE_HUB_ORIGIN, else
// RENDER_EXTERNAL_URL, else a Fly app's https://<app>.fly.dev; "" when none
// is set (the hub then issues as its loopback origin).
func ConfiguredIssuer(getenv func(string) string) string {
	trim := func(s string) string { return strings.TrimRight(strings.TrimSpace(s), "/") }
	if v := trim(getenv("PARACHUTE_HUB_ORIGIN")); v != "" {
		return v
	}
	if v := trim(getenv("RENDER_EXTERNAL_URL")); v != "" {
		return v
	}
	if app := strings.TrimSpace(getenv("FLY_APP_NAME")); app != "" && !strings.Contains(app, "/") {
		return "https://" + app + ".fly.dev"
	}
	return ""
}
