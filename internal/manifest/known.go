package manifest

import (
	"slices"
	"strings"
)

// Known describes a first-party module the hub knows without a module.json.
type Known struct {
	// Short is the module's short name ("vault"): the CLI argument and the
	// name of its directory under the config root.
	Short string
	// ManifestName is its services.json row name ("parachute-vault").
	ManifestName string
	// Package is its npm package ("@openparachute/vault").
	Package string
	// DisplayName is the human label.
	DisplayName string
	// Tagline is the one-line subtitle, if any.
	Tagline string
	// Port is the canonical port.
	Port int
	// Paths are the canonical mounts; Paths[0] is the main one.
	Paths []string
	// Health is the canonical liveness path.
	Health string
	// StripPrefix is whether the proxy strips the mount for this module.
	StripPrefix bool
	// Cmd is the argv the supervisor runs (no shell; Cmd[0] is looked up on
	// PATH). Empty when this hub cannot run the module (notes).
	Cmd []string
}

// knownModules is the table of first-party modules with canonical ports.
var knownModules = []Known{
	{Short: "vault", ManifestName: "parachute-vault", Package: "@openparachute/vault",
		DisplayName: "Vault", Tagline: "Your owner-authenticated MCP knowledge store.",
		Port: 1940, Paths: []string{"/vault/default"}, Health: "/vault/default/health",
		Cmd: []string{"parachute-vault", "serve"}},
	{Short: "channel", ManifestName: "parachute-channel", Package: "@openparachute/channel",
		DisplayName: "Channel", Tagline: "Notification fan-out across modules.",
		Port: 1941, Paths: []string{"/channel"}, Health: "/channel/health",
		Cmd: []string{"parachute-channel", "daemon"}},
	// notes was served by a script inside the Bun hub; this hub has no
	// command for it, so a notes row is registered but not supervised.
	{Short: "notes", ManifestName: "parachute-notes", Package: "@openparachute/notes",
		DisplayName: "Notes",
		Port:        1942, Paths: []string{"/notes"}, Health: "/notes/health"},
	{Short: "scribe", ManifestName: "parachute-scribe", Package: "@openparachute/scribe",
		DisplayName: "Scribe", Tagline: "Local audio transcription for vault recordings.",
		Port: 1943, Paths: []string{"/scribe"}, Health: "/scribe/health", StripPrefix: true,
		Cmd: []string{"parachute-scribe", "serve"}},
	{Short: "runner", ManifestName: "parachute-runner", Package: "@openparachute/runner",
		DisplayName: "Runner",
		Port:        1945, Paths: []string{"/runner", "/.parachute"}, Health: "/runner/healthz",
		Cmd: []string{"parachute-runner", "serve"}},
	{Short: "surface", ManifestName: "parachute-surface", Package: "@openparachute/surface",
		DisplayName: "Surface", Tagline: "Host module for Parachute surfaces — auto-installs Notes on first boot.",
		Port: 1946, Paths: []string{"/surface", "/.parachute"}, Health: "/surface/healthz",
		Cmd: []string{"parachute-surface", "serve"}},
}

// legacyNames maps old row names to the short name of the module that replaced them.
var legacyNames = map[string]string{"parachute-lens": "notes"}

// KnownModules returns the first-party modules in canonical port order. The
// result is a copy; callers may modify it.
func KnownModules() []Known {
	out := make([]Known, len(knownModules))
	for i, k := range knownModules {
		out[i] = k.clone()
	}
	return out
}

// KnownByShort returns the first-party module with that short name.
func KnownByShort(short string) (Known, bool) {
	for _, k := range knownModules {
		if k.Short == short {
			return k.clone(), true
		}
	}
	return Known{}, false
}

func (k Known) clone() Known {
	k.Paths = slices.Clone(k.Paths)
	k.Cmd = slices.Clone(k.Cmd)
	return k
}

// ShortName maps a services.json row name to the module's short name: a
// known manifest name to its short ("parachute-vault" → "vault"), the
// legacy "parachute-lens" to "notes", and every vault instance row
// ("parachute-vault-work") to "vault", because one vault process serves all
// instances. Any other name is its own short name.
func ShortName(manifestName string) string {
	for _, k := range knownModules {
		if k.ManifestName == manifestName {
			return k.Short
		}
	}
	if s, ok := legacyNames[manifestName]; ok {
		return s
	}
	if IsVaultName(manifestName) {
		return "vault"
	}
	return manifestName
}

// IsVaultName reports whether a row name is a vault row: "parachute-vault"
// or a vault instance "parachute-vault-<name>". Vault rows may share a port.
func IsVaultName(name string) bool {
	return name == "parachute-vault" || strings.HasPrefix(name, "parachute-vault-")
}
