// Package semver parses and orders semantic versions (semver.org 2.0.0).
//
// It replaces github.com/Masterminds/semver/v3 in the parachute binary for
// one reason: that package compiles six regular expressions in init(),
// about 0.25 ms and 200 KB of allocations on every exec of every verb,
// including `parachute status`, which never compares a version. This one
// has no package-level state. NewVersion and StrictNewVersion accept
// exactly what Masterminds' functions of the same names accept (the fuzz
// test checks it against them); Compare follows semver precedence.
package semver

import (
	"errors"
	"strconv"
	"strings"
)

// MaxVersionLen bounds the input, as Masterminds does.
const MaxVersionLen = 256

// ErrInvalidSemVer is returned for anything that is not a version.
var ErrInvalidSemVer = errors.New("invalid semantic version")

// Version is a parsed semantic version.
type Version struct {
	major, minor, patch uint64
	pre, metadata       string
}

// NewVersion parses a version leniently: an optional leading "v", and
// minor and patch may be left out ("1.2" is 1.2.0); leading zeros in the
// numbers are tolerated ("01.2.3" is 1.2.3).
func NewVersion(v string) (*Version, error) { return parse(v, false) }

// StrictNewVersion parses a version exactly as semver.org defines it:
// MAJOR.MINOR.PATCH, no "v", no leading zeros.
func StrictNewVersion(v string) (*Version, error) { return parse(v, true) }

func parse(v string, strict bool) (*Version, error) {
	if len(v) > MaxVersionLen {
		return nil, ErrInvalidSemVer
	}
	s := v
	if !strict {
		s = strings.TrimPrefix(s, "v")
	}
	// The core's characters are digits and dots, and a prerelease cannot
	// contain '+', so the first '+' starts the build metadata and the first
	// '-' before it starts the prerelease.
	s, meta, hasMeta := strings.Cut(s, "+")
	if hasMeta && !validIdentifiers(meta, false) {
		return nil, ErrInvalidSemVer
	}
	s, pre, hasPre := strings.Cut(s, "-")
	if hasPre && !validIdentifiers(pre, true) {
		return nil, ErrInvalidSemVer
	}
	nums := strings.Split(s, ".")
	if len(nums) > 3 || (strict && len(nums) != 3) {
		return nil, ErrInvalidSemVer
	}
	sv := &Version{pre: pre, metadata: meta}
	dst := []*uint64{&sv.major, &sv.minor, &sv.patch}
	for i, n := range nums {
		if !allDigits(n) || (strict && len(n) > 1 && n[0] == '0') {
			return nil, ErrInvalidSemVer
		}
		x, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			return nil, ErrInvalidSemVer
		}
		*dst[i] = x
	}
	return sv, nil
}

// validIdentifiers checks dot-separated identifiers: non-empty, ASCII
// alphanumerics and '-'; in a prerelease, numeric ones without leading zeros.
func validIdentifiers(s string, prerelease bool) bool {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if prerelease && len(id) > 1 && id[0] == '0' && allDigits(id) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Major returns the major number.
func (v *Version) Major() uint64 { return v.major }

// Minor returns the minor number.
func (v *Version) Minor() uint64 { return v.minor }

// Patch returns the patch number.
func (v *Version) Patch() uint64 { return v.patch }

// Prerelease returns the prerelease ("rc.1" in 1.0.0-rc.1), or "".
func (v *Version) Prerelease() string { return v.pre }

// Metadata returns the build metadata ("abc" in 1.0.0+abc), or "".
func (v *Version) Metadata() string { return v.metadata }

// Compare returns -1, 0 or 1 as v has lower, equal or higher precedence
// than o. Build metadata is ignored; a release is above its prereleases.
func (v *Version) Compare(o *Version) int {
	for _, d := range [][2]uint64{{v.major, o.major}, {v.minor, o.minor}, {v.patch, o.patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.pre == o.pre:
		return 0
	case v.pre == "":
		return 1
	case o.pre == "":
		return -1
	}
	a, b := strings.Split(v.pre, "."), strings.Split(o.pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareIdentifier(a[i], b[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// compareIdentifier orders two prerelease identifiers: numeric ones by
// value (they have no leading zeros, so a longer one is larger), numeric
// below alphanumeric, alphanumeric ones in ASCII order.
func compareIdentifier(a, b string) int {
	na, nb := allDigits(a), allDigits(b)
	switch {
	case na && nb:
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}
