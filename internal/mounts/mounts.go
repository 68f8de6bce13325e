// Package mounts holds the rules for the URL paths modules are mounted on
// under the hub's origin: which prefixes the hub keeps for itself, what a
// well-formed mount looks like, when two mounts shadow each other, and how a
// whole registry is checked so the first module to claim a mount keeps it.
//
// It is the one place those rules live: module.json validation
// (internal/manifest), the installer (internal/install), and the hub's boot,
// router and discovery document (internal/hub) all call it, so a mount that
// install refuses can never be routed either.
//
// Why this matters: the hub's reverse proxy forwards every header,
// including Authorization and the hub's own cookies, to whichever module
// owns the longest matching mount. A module mounted on "/api", on "/", or
// under another module's mount would receive requests (and credentials)
// meant for someone else.
package mounts

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Shared is the mount several first-party modules list for their
// "/.parachute/*" endpoints (runner and surface both do). It is a marker,
// not a route: the hub never proxies it, so it is accepted in every module's
// paths and never counts as an overlap.
const Shared = "/.parachute"

// MaxLen bounds a mount's length in bytes. Mounts are short names such as
// "/vault/default"; a long one is a mistake or an attack on log lines.
const MaxLen = 128

// Errors callers branch on; every error from this package wraps one.
var (
	// ErrInvalid means a mount is malformed or not in canonical form.
	ErrInvalid = errors.New("invalid mount path")
	// ErrReserved means a mount is (or is under) a prefix the hub or
	// another module owns.
	ErrReserved = errors.New("reserved mount path")
	// ErrOverlap means a mount equals, contains or sits under the mount of
	// an earlier module.
	ErrOverlap = errors.New("mount overlaps another module")
	// ErrDuplicate means a services.json row repeats an earlier row's name.
	ErrDuplicate = errors.New("duplicate module name")
)

// Reservation is a prefix no module may mount on, at or under, unless it is
// the Owner.
type Reservation struct {
	// Prefix is the reserved path, e.g. "/api".
	Prefix string
	// Owner is the module short name that may mount under Prefix ("vault"
	// for "/vault"), or "" when only the hub may.
	Owner string
	// Why says who uses the prefix, for error messages.
	Why string
}

// reserved are the hub's own routes (reference server.md §1: every hub
// route and the legacy redirects the reference serves before its proxy),
// plus "/vault", which belongs to the vault module's instances.
var reserved = []Reservation{
	{Prefix: "/api", Why: "the hub's API"},
	{Prefix: "/oauth", Why: "the hub's OAuth endpoints"},
	{Prefix: "/.well-known", Why: "the hub's discovery and key documents"},
	{Prefix: "/.parachute", Why: "per-module info endpoints (only the bare /.parachute marker is allowed)"},
	{Prefix: "/admin", Why: "the hub's admin pages"},
	{Prefix: "/login", Why: "the hub's sign-in page"},
	{Prefix: "/logout", Why: "the hub's sign-out"},
	{Prefix: "/account", Why: "the hub's account pages"},
	{Prefix: "/health", Why: "the hub's liveness probe"},
	{Prefix: "/hub", Why: "the hub's legacy pages"},
	{Prefix: "/hub.html", Why: "the hub's discovery page"},
	{Prefix: "/static", Why: "the hub's static assets"},
	{Prefix: "/vaults", Why: "the hub's vault-creation endpoint"},
	{Prefix: "/favicon.ico", Why: "the hub's icon"},
	{Prefix: "/vault", Owner: "vault", Why: "vault instances (/vault/<name>)"},
}

// Reserved returns the reserved prefixes, hub-owned ones first. The result
// is a copy.
func Reserved() []Reservation {
	return append([]Reservation(nil), reserved...)
}

// HubOwned reports whether a request path is at or under a prefix only the
// hub serves, so the proxy must never forward it to a module whatever
// services.json says. It matches case-insensitively (see reservedBy).
func HubOwned(p string) bool {
	r, ok := reservedBy(p)
	return ok && r.Owner == ""
}

// reservedBy returns the reservation p falls at or under. The comparison
// folds ASCII case: the router is case-sensitive, but "/API" or "/Admin"
// next to the hub's own pages only serves to confuse the operator.
func reservedBy(p string) (Reservation, bool) {
	lp := strings.ToLower(trim(p))
	for _, r := range reserved {
		if lp == r.Prefix || strings.HasPrefix(lp, r.Prefix+"/") {
			return r, true
		}
	}
	return Reservation{}, false
}

// Validate checks that p is a well-formed mount the hub could route and
// that no hub-owned prefix reserves it:
//   - absolute and canonical: path.Clean(p) == p, so no trailing "/", no
//     "//", and no "." or ".." segment;
//   - not "/" itself (it would shadow every path the hub does not serve);
//   - at most MaxLen bytes of RFC 3986 unreserved characters (letters,
//     digits, "-", ".", "_", "~") between slashes, so no "%" escapes,
//     backslashes, NULs, control characters, spaces, "?", "#" or ";" that a
//     proxy, browser or tailscale serve might read differently than we do.
//
// Shared is accepted. Module-owned prefixes ("/vault") are checked by
// CheckPath, which knows the module.
func Validate(p string) error {
	if err := validateSyntax(p); err != nil {
		return err
	}
	if p == Shared {
		return nil
	}
	if r, ok := reservedBy(p); ok && r.Owner == "" {
		return reservedErr(p, r)
	}
	return nil
}

func validateSyntax(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty (want a path such as \"/mymodule\")", ErrInvalid)
	case len(p) > MaxLen:
		return fmt.Errorf("%w: %d bytes long, the limit is %d", ErrInvalid, len(p), MaxLen)
	case p[0] != '/':
		return fmt.Errorf("%w %q: must start with \"/\"", ErrInvalid, p)
	case p == "/":
		return fmt.Errorf("%w \"/\": a module cannot take the hub's root; mount it on \"/<name>\"", ErrReserved)
	}
	for i := 0; i < len(p); i++ {
		if !allowedByte(p[i]) {
			return fmt.Errorf("%w %q: character %q is not allowed (use letters, digits, \"-\", \".\", \"_\", \"~\" and \"/\")", ErrInvalid, p, p[i])
		}
	}
	if c := path.Clean(p); c != p {
		return fmt.Errorf("%w %q: not in canonical form (no trailing \"/\", \"//\", \".\" or \"..\"); write %q", ErrInvalid, p, c)
	}
	return nil
}

func allowedByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return c == '/' || c == '-' || c == '.' || c == '_' || c == '~'
}

func reservedErr(p string, r Reservation) error {
	if r.Owner != "" {
		return fmt.Errorf("%w %q: %s belongs to %s", ErrReserved, p, r.Prefix, r.Why)
	}
	return fmt.Errorf("%w %q: %s is %s", ErrReserved, p, r.Prefix, r.Why)
}

// CheckPath is Validate plus the module-owned reservations: only the module
// whose short name is owner may mount at or under a prefix reserved for it.
func CheckPath(owner, p string) error {
	if err := Validate(p); err != nil {
		return err
	}
	if p == Shared {
		return nil
	}
	if r, ok := reservedBy(p); ok && r.Owner != owner {
		return reservedErr(p, r)
	}
	return nil
}

// Overlap reports whether mounts a and b shadow each other: they are equal,
// or one lies under the other on a segment boundary. "/echo" overlaps
// "/echo" and "/echo/api"; it does not overlap "/echo2". A trailing "/" is
// ignored, so "/" overlaps every path.
func Overlap(a, b string) bool {
	a, b = trim(a), trim(b)
	if len(a) > len(b) {
		a, b = b, a
	}
	return b == a || strings.HasPrefix(b, a+"/")
}

func trim(p string) string {
	return strings.TrimRight(p, "/")
}
