package modops

import (
	"fmt"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/mounts"
)

// Routable reads services.json leniently and applies the mount rules
// (internal/mounts, the same ones install applies): the returned file holds
// only the rows the hub may route, start and list in discovery. A refused
// row — a hub-owned or malformed mount, a mount under another module's, a
// repeated name — never takes the other rows down with it.
func (m *Manager) Routable() (f *manifest.File, refused []mounts.Refusal, warns []string) {
	all, warns := manifest.LoadLenient(m.paths.ServicesJSON())
	kept, refused := manifest.Routable(all.Services)
	f = &manifest.File{Services: kept, Extra: all.Extra, Warnings: all.Warnings}
	return f, refused, warns
}

// RefusalAdvice is what the operator reads about a refused row: why, and
// what to run next.
func RefusalAdvice(r mounts.Refusal) string { return manifest.MountAdvice(r) }

// logRefusals warns once per refused row (at boot; the proxy and discovery
// skip refused rows silently on every request).
func (m *Manager) logRefusals(refused []mounts.Refusal) {
	for _, r := range refused {
		m.log.Warn("services.json: module row skipped", "module", r.Name, "path", r.Path, "reason", RefusalAdvice(r))
	}
}

// FindRow looks up the services.json row for short among the rows the
// mount rules accept (lenient read: one bad row must not take every
// module's API down). A module that is not registered is ErrNotInstalled;
// one whose every row is refused is ErrMountRefused, saying why.
func (m *Manager) FindRow(short string) (manifest.Service, error) {
	f, refusals, warns := m.Routable()
	for _, w := range warns {
		m.log.Warn("services.json", "warning", w)
	}
	if row, ok := f.Find(short); ok {
		return row, nil
	}
	for _, r := range refusals {
		if manifest.ShortName(r.Name) == short || r.Name == short {
			return manifest.Service{}, &refusedError{short: short, advice: RefusalAdvice(r)}
		}
	}
	return manifest.Service{}, notInstalledError(short)
}

// notInstalledError is ErrNotInstalled for one module, saying what to run.
type notInstalledError string

func (e notInstalledError) Error() string {
	return fmt.Sprintf("%s is not installed (no services.json entry) — run `parachute install %s` first", string(e), string(e))
}
func (e notInstalledError) Is(target error) bool { return target == ErrNotInstalled }

// refusedError is ErrMountRefused for one module, with the mount rules'
// advice.
type refusedError struct{ short, advice string }

func (e *refusedError) Error() string        { return e.short + " is installed but " + e.advice }
func (e *refusedError) Is(target error) bool { return target == ErrMountRefused }
