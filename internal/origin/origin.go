// Package origin computes the hub's canonical origin — the one URL the hub
// mints tokens with, puts in its discovery document and hands to every
// module as PARACHUTE_HUB_ORIGIN — and the set of issuers token
// verification accepts. It is the one place both `parachute expose` and the
// accounts work read it from (reference lifecycle.md §0.7).
//
// The package is pure: callers pass in the inputs (a flag value, the
// hub_settings row, an environment lookup, the exposed origins from
// expose-state, the bound port), so it has no file or database access and
// can be used from the CLI and the hub alike.
package origin

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Source names where a resolved origin came from, for status output and logs.
type Source string

// The sources, in precedence order.
const (
	SourceFlag     Source = "--hub-origin"
	SourceSetting  Source = "hub_settings.hub_origin"
	SourceEnv      Source = "PARACHUTE_HUB_ORIGIN"
	SourceRender   Source = "RENDER_EXTERNAL_URL"
	SourceFly      Source = "FLY_APP_NAME"
	SourceExposed  Source = "expose-state"
	SourceLoopback Source = "loopback"
)

// Inputs are everything the origin can be derived from. Zero values mean
// "not set".
type Inputs struct {
	// Flag is the --hub-origin command-line value.
	Flag string
	// Setting is hub_settings.hub_origin from hub.db (the admin's choice
	// through PUT /api/settings/hub-origin).
	Setting string
	// Getenv looks up PARACHUTE_HUB_ORIGIN, RENDER_EXTERNAL_URL and
	// FLY_APP_NAME; nil means an empty environment.
	Getenv func(string) string
	// Exposed are the origins of live exposures (expose-state), most
	// preferred first, e.g. "https://box.tail1234.ts.net".
	Exposed []string
	// Port is the hub's bound loopback port; 0 means the default 1939.
	Port int
}

// DefaultPort is the hub's port when nothing else says.
const DefaultPort = 1939

// Resolved is the canonical origin and where it came from.
type Resolved struct {
	URL    string
	Source Source
}

// Normalize trims space and trailing slashes from an origin.
func Normalize(s string) string { return strings.TrimRight(strings.TrimSpace(s), "/") }

// Validate reports whether s is usable as a hub origin: an absolute http or
// https URL with a host and nothing after the host but an optional path
// prefix (no query or fragment). The error says what to pass instead.
func Validate(s string) error {
	u, err := url.Parse(Normalize(s))
	if err != nil {
		return fmt.Errorf("hub origin %q is not a URL: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("hub origin %q must look like https://hub.example.com (scheme and host, no query)", s)
	}
	return nil
}

// Loopback is the hub's loopback origin, http://127.0.0.1:<port>.
func Loopback(port int) string {
	if port <= 0 {
		port = DefaultPort
	}
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// candidates lists every configured origin in precedence order, loopback
// last. Empty inputs are skipped.
func candidates(in Inputs) []Resolved {
	getenv := in.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var out []Resolved
	add := func(v string, s Source) {
		if v = Normalize(v); v != "" {
			out = append(out, Resolved{URL: v, Source: s})
		}
	}
	add(in.Flag, SourceFlag)
	add(in.Setting, SourceSetting)
	add(getenv("PARACHUTE_HUB_ORIGIN"), SourceEnv)
	add(getenv("RENDER_EXTERNAL_URL"), SourceRender)
	// A Fly app name is a DNS label; one with a slash would make a URL
	// with a path we never meant, so it is ignored.
	if app := strings.TrimSpace(getenv("FLY_APP_NAME")); app != "" && !strings.ContainsAny(app, "/:@") {
		add("https://"+app+".fly.dev", SourceFly)
	}
	for _, e := range in.Exposed {
		add(e, SourceExposed)
	}
	add(Loopback(in.Port), SourceLoopback)
	return out
}

// Resolve returns the canonical hub origin: the first of --hub-origin,
// hub_settings.hub_origin, PARACHUTE_HUB_ORIGIN, RENDER_EXTERNAL_URL,
// https://$FLY_APP_NAME.fly.dev, the exposed origin, and the loopback URL.
func Resolve(in Inputs) Resolved { return candidates(in)[0] }

// Configured is Resolve without the loopback fallback: "" when no input
// names an origin.
func Configured(in Inputs) string {
	if r := Resolve(in); r.Source != SourceLoopback {
		return r.URL
	}
	return ""
}

// Issuers is the set of iss values token verification accepts: every
// origin that applies (so a token minted before an exposure changed, or by
// the CLI from the environment, still verifies) plus the three loopback
// spellings of the port, so a public origin never locks the on-box CLI out.
// The canonical origin comes first; there are no duplicates.
func Issuers(in Inputs) []string {
	port := in.Port
	if port <= 0 {
		port = DefaultPort
	}
	p := strconv.Itoa(port)
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, c := range candidates(in) {
		add(c.URL)
	}
	add("http://localhost:" + p)
	add("http://[::1]:" + p)
	return out
}
