package install

import (
	"errors"
	"fmt"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/ports"
)

// The Parachute port range: 1939 is the hub, 1940–1943, 1945 and 1946 are
// first-party modules' canonical ports, and 1944, 1947, 1948 and 1949 are
// handed out when a canonical port is taken or a module has none. Unlike
// the reference, 1945 is not in the pool: it is runner's canonical port
// (reference lifecycle.md §9.17).
var (
	poolPorts = []int{1944, 1947, 1948, 1949}
	rangeEnd  = 1949
)

// ErrPortInUse means the port asked for with --port is taken.
var ErrPortInUse = errors.New("port in use")

// PortProbe answers "is something listening on this port, and who".
type PortProbe interface {
	// Listening reports whether a TCP connect to 127.0.0.1:port succeeds.
	Listening(port int) bool
	// Holder names the process listening on port ("python3 (pid 42)").
	Holder(port int) string
}

// SystemPorts is the real PortProbe.
type SystemPorts struct{}

// Listening implements PortProbe with a short connect timeout: a loopback
// connect either succeeds or is refused at once.
func (SystemPorts) Listening(port int) bool { return ports.Listening(port, 300*time.Millisecond) }

// Holder implements PortProbe.
func (SystemPorts) Holder(port int) string { return ports.Describe(port) }

// assignPort picks the port for a new row named name: requested when given
// (it must be free), else canonical when free, else the first free pool
// port, else the first free port above the range. A port is taken when
// another row claims it, it is the hub's, or something listens on it.
// The message explains any choice other than the canonical port.
func assignPort(f *manifest.File, name string, canonical, requested int, probe PortProbe) (port int, msg string, err error) {
	claimed := func(p int) string {
		for _, s := range f.Services {
			if s.Port == p && s.Name != name {
				return s.Name
			}
		}
		return ""
	}
	why := func(p int) string {
		if p == config.DefaultHubPort {
			return "the hub's port"
		}
		if r := claimed(p); r != "" {
			return "registered to " + r
		}
		if probe.Listening(p) {
			return "in use by " + probe.Holder(p)
		}
		return ""
	}
	if requested > 0 {
		if requested > 65535 {
			return 0, "", fmt.Errorf("port %d is out of range (1..65535)", requested)
		}
		if w := why(requested); w != "" {
			return 0, "", fmt.Errorf("%w: port %d is %s — pick another with --port, or omit --port to have one assigned", ErrPortInUse, requested, w)
		}
		return requested, "", nil
	}
	var reason string
	if canonical > 0 {
		if reason = why(canonical); reason == "" {
			return canonical, "", nil
		}
	}
	for _, p := range poolPorts {
		if why(p) == "" {
			if canonical > 0 {
				return p, fmt.Sprintf("canonical port %d is %s; assigned %d from the unassigned Parachute range.", canonical, reason, p), nil
			}
			return p, fmt.Sprintf("assigned port %d from the unassigned Parachute range (no canonical port for this module).", p), nil
		}
	}
	for p := rangeEnd + 1; p <= 65535; p++ {
		if why(p) == "" {
			return p, fmt.Sprintf("Parachute port range (1939–1949) is full; assigned %d outside the range — it may conflict with other software.", p), nil
		}
	}
	return 0, "", errors.New("no free port found")
}
