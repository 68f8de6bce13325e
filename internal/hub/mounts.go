package hub

import (
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/mounts"
)

// routable reads services.json leniently and applies the mount rules
// (internal/mounts, the same ones install applies): the returned file holds
// only the rows the hub may route, start and list in discovery. A refused
// row — a hub-owned or malformed mount, a mount under another module's, a
// repeated name — never takes the other rows down with it.
func (s *Server) routable() (f *manifest.File, refused []mounts.Refusal, warns []string) {
	all, warns := manifest.LoadLenient(s.paths.ServicesJSON())
	kept, refused := manifest.Routable(all.Services)
	f = &manifest.File{Services: kept, Extra: all.Extra, Warnings: all.Warnings}
	return f, refused, warns
}

// refusalAdvice is what the operator reads about a refused row: why, and
// what to run next.
func refusalAdvice(r mounts.Refusal) string { return manifest.MountAdvice(r) }

// logRefusals warns once per refused row (at boot; the proxy and discovery
// skip refused rows silently on every request).
func (s *Server) logRefusals(refused []mounts.Refusal) {
	for _, r := range refused {
		s.log.Warn("services.json: module row skipped", "module", r.Name, "path", r.Path, "reason", refusalAdvice(r))
	}
}
