package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openparachute/parachute/internal/mounts"
)

// MountRows is services as internal/mounts sees them, in the same order:
// the owner is the row's ShortName (so vault instances may nest), the label
// names the row and its port (two rows may share a name), and trailing
// slashes are trimmed from the mounts because the router ignores them and
// rows written by older hubs carry them ("/notes/").
func MountRows(services []Service) []mounts.Row {
	out := make([]mounts.Row, len(services))
	for i, s := range services {
		paths := make([]string, len(s.Paths))
		for j, p := range s.Paths {
			if t := strings.TrimRight(p, "/"); t != "" {
				p = t
			} else if p != "" {
				p = "/"
			}
			paths[j] = p
		}
		out[i] = mounts.Row{Name: s.Name, Owner: ShortName(s.Name), Paths: paths,
			Label: fmt.Sprintf("%q (port %d)", s.Name, s.Port)}
	}
	return out
}

// CheckMounts applies the mount rules to services in registration order
// (mounts.CheckSet): a row with a malformed or hub-owned mount, a mount
// that shadows an earlier module's, or the name of an earlier row is
// refused. The hub neither routes, starts nor lists a refused row.
func CheckMounts(services []Service) []mounts.Refusal {
	return mounts.CheckSet(MountRows(services))
}

// MountAdvice says why a row is refused and what to run next, for the
// hub's log, its /api/modules warnings and `parachute status`.
func MountAdvice(r mounts.Refusal) string {
	if errors.Is(r, mounts.ErrDuplicate) {
		return fmt.Sprintf("not routed: %v", r.Err)
	}
	short := ShortName(r.Name)
	return fmt.Sprintf("not routed: %v — change \"paths\" in the module's .parachute/module.json and run `parachute install` again, "+
		"or remove the row with `parachute uninstall %s`", r.Err, short)
}

// Routable splits services into the rows the hub routes and the refusals
// for the rest, both in registration order. kept is a new slice.
func Routable(services []Service) (kept []Service, refused []mounts.Refusal) {
	refused = CheckMounts(services)
	bad := make(map[int]bool, len(refused))
	for _, r := range refused {
		bad[r.Index] = true
	}
	kept = make([]Service, 0, len(services)-len(refused))
	for i, s := range services {
		if !bad[i] {
			kept = append(kept, s)
		}
	}
	return kept, refused
}
