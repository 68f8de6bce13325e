package semver

import (
	"strings"
	"testing"

	ms "github.com/Masterminds/semver/v3"
)

func TestParse(t *testing.T) {
	type want struct {
		major, minor, patch uint64
		pre, meta           string
	}
	cases := []struct {
		in     string
		loose  *want // nil: NewVersion rejects it
		strict bool  // StrictNewVersion accepts it (then equal to loose)
	}{
		{"1.2.3", &want{1, 2, 3, "", ""}, true},
		{"0.5.13-rc.13", &want{0, 5, 13, "rc.13", ""}, true},
		{"1.0.0-beta.1+build.5", &want{1, 0, 0, "beta.1", "build.5"}, true},
		{"1.2.3+b-c", &want{1, 2, 3, "", "b-c"}, true},
		{"1.2.3-a-b", &want{1, 2, 3, "a-b", ""}, true},
		{"v1.2.3", &want{1, 2, 3, "", ""}, false},
		{"1.2", &want{1, 2, 0, "", ""}, false},
		{"1", &want{1, 0, 0, "", ""}, false},
		{"1-rc", &want{1, 0, 0, "rc", ""}, false},
		{"01.2.3", &want{1, 2, 3, "", ""}, false},
		{"", nil, false},
		{"v", nil, false},
		{"vv1.2.3", nil, false},
		{"V1.2.3", nil, false},
		{"1.2.3.4", nil, false},
		{"1.", nil, false},
		{".1", nil, false},
		{"1.2.3-", nil, false},
		{"1.2.3+", nil, false},
		{"1.2.3-rc..1", nil, false},
		{"1.2.3-01", nil, false},
		{"1.2.3-rc+b+c", nil, false},
		{"1.2.3-é", nil, false},
		{"latest", nil, false},
		{"^1.2.3", nil, false},
		{"18446744073709551616.0.0", nil, false}, // overflows uint64
		{"1.2.3-" + strings.Repeat("a", MaxVersionLen), nil, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			v, err := NewVersion(c.in)
			switch {
			case c.loose == nil && err == nil:
				t.Fatalf("NewVersion accepted it: %+v", v)
			case c.loose != nil && err != nil:
				t.Fatalf("NewVersion: %v", err)
			case c.loose != nil:
				got := want{v.Major(), v.Minor(), v.Patch(), v.Prerelease(), v.Metadata()}
				if got != *c.loose {
					t.Fatalf("NewVersion = %+v, want %+v", got, *c.loose)
				}
			}
			if _, err := StrictNewVersion(c.in); (err == nil) != c.strict {
				t.Fatalf("StrictNewVersion error = %v, want accepted=%v", err, c.strict)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	// Ascending, from semver.org §11 plus numeric-identifier cases.
	order := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0-rc.9", "1.0.0-rc.10", "1.0.0", "1.0.1", "1.1.0", "2.0.0",
	}
	for i := range order {
		for j := range order {
			a, _ := NewVersion(order[i])
			b, _ := NewVersion(order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	a, _ := NewVersion("1.0.0+a")
	b, _ := NewVersion("v1.0.0+b")
	if a.Compare(b) != 0 {
		t.Error("build metadata must not affect precedence")
	}
}

// FuzzAgainstMasterminds checks this package accepts what Masterminds
// semver accepts, parses it to the same parts, and orders the same way.
func FuzzAgainstMasterminds(f *testing.F) {
	for _, s := range []string{"1.2.3", "v1.2", "1", "01.2.3", "1.0.0-rc.1+b", "1.2.3-a-b", "1.2.3-01",
		"1.2.3+b.c", "1.2.3.4", "v", "1.2.3-rc..1", "0.0.0-0", "1.0.0-alpha.beta", "18446744073709551616"} {
		f.Add(s, "1.0.0-rc.10")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []string{a, b} {
			check(t, "NewVersion", s, ms.NewVersion, NewVersion)
			check(t, "StrictNewVersion", s, ms.StrictNewVersion, StrictNewVersion)
		}
		va, errA := NewVersion(a)
		vb, errB := NewVersion(b)
		if errA != nil || errB != nil || hugeNumericIdentifier(va.pre) || hugeNumericIdentifier(vb.pre) {
			return
		}
		ma, _ := ms.NewVersion(a)
		mb, _ := ms.NewVersion(b)
		if got, want := va.Compare(vb), ma.Compare(mb); got != want {
			t.Fatalf("Compare(%q, %q) = %d, Masterminds says %d", a, b, got, want)
		}
	})
}

func check(t *testing.T, name, s string, theirs func(string) (*ms.Version, error), ours func(string) (*Version, error)) {
	t.Helper()
	m, errM := theirs(s)
	v, errV := ours(s)
	if (errM == nil) != (errV == nil) {
		t.Fatalf("%s(%q): Masterminds error %v, ours %v", name, s, errM, errV)
	}
	if errM != nil {
		return
	}
	if m.Major() != v.Major() || m.Minor() != v.Minor() || m.Patch() != v.Patch() ||
		m.Prerelease() != v.Prerelease() || m.Metadata() != v.Metadata() {
		t.Fatalf("%s(%q) = %d.%d.%d-%s+%s, Masterminds %d.%d.%d-%s+%s", name, s,
			v.Major(), v.Minor(), v.Patch(), v.Prerelease(), v.Metadata(),
			m.Major(), m.Minor(), m.Patch(), m.Prerelease(), m.Metadata())
	}
}

// hugeNumericIdentifier: Masterminds compares numeric prerelease
// identifiers past uint64 as strings (so "100000000000000000000" <
// "99999999999999999999"); semver precedence, and this package, compare
// them as numbers.
func hugeNumericIdentifier(pre string) bool {
	for id := range strings.SplitSeq(pre, ".") {
		if len(id) > 19 && allDigits(id) {
			return true
		}
	}
	return false
}
