package install

import (
	"strings"

	"github.com/openparachute/parachute/internal/semver"
)

// parseVersion parses a semver version, tolerating a leading "v".
func parseVersion(v string) (*semver.Version, bool) {
	if v == "" {
		return nil, false
	}
	sv, err := semver.NewVersion(strings.TrimSpace(v))
	if err != nil {
		return nil, false
	}
	return sv, true
}

// isExactVersion reports whether tag is a full version ("1.2.3",
// "1.2.3-rc.1") rather than a dist-tag ("latest", "rc") or a range.
func isExactVersion(tag string) bool {
	_, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
	return err == nil
}

// CompareVersions compares two versions by semver precedence (a release
// is above its prereleases; build metadata is ignored). ok is false when
// either does not parse; callers then skip version guards.
func CompareVersions(a, b string) (cmp int, ok bool) {
	va, okA := parseVersion(a)
	vb, okB := parseVersion(b)
	if !okA || !okB {
		return 0, false
	}
	return va.Compare(vb), true
}

// DetectChannel is the channel an installed version follows: a prerelease
// ("0.5.13-rc.13", "1.0.0-beta.1") follows rc, a release follows latest.
// An unparsable or empty version follows latest.
func DetectChannel(installed string) string {
	if v, ok := parseVersion(installed); ok && v.Prerelease() != "" {
		return ChannelRC
	}
	return ChannelLatest
}
