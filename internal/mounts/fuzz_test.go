package mounts

import (
	"path"
	"testing"
)

// FuzzValidate feeds arbitrary mounts to Validate, CheckPath, Overlap and
// CheckSet. None may panic; a mount Validate accepts (other than the Shared
// marker) is canonical and overlaps no hub-owned prefix; Overlap is
// symmetric; CheckSet refuses at most one row per input and never the first
// row of a well-formed pair.
func FuzzValidate(f *testing.F) {
	for _, s := range [][2]string{
		{"/echo", "/echo/api"}, {"/echo", "/echo2"}, {"/", "/api"}, {"/api", "/API"},
		{"/../../etc", "/etc"}, {"/x\x00", "/x"}, {"//echo", "/echo/"}, {"/%2e%2e", "/.."},
		{"/.parachute", "/.parachute"}, {"/vault/default", "/vault/work"}, {"/health/x", "/hub.html"},
		{`/a\b`, "/a/b"}, {"/.well-known", "/.well-known/x"}, {"", "/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if Overlap(a, b) != Overlap(b, a) {
			t.Fatalf("Overlap(%q, %q) is not symmetric", a, b)
		}
		if err := Validate(a); err == nil && a != Shared {
			if path.Clean(a) != a || a == "/" {
				t.Fatalf("Validate accepted non-canonical %q", a)
			}
			for _, r := range Reserved() {
				if r.Owner == "" && Overlap(a, r.Prefix) {
					t.Fatalf("Validate accepted %q, which overlaps the hub's %q", a, r.Prefix)
				}
			}
			if HubOwned(a) {
				t.Fatalf("Validate accepted %q, which HubOwned claims", a)
			}
			if CheckPath("m", a) == nil && !CheckSetAccepts(a) {
				t.Fatalf("CheckSet refused a lone row on %q", a)
			}
		}
		_ = CheckPath(b, a)
		refs := CheckSet([]Row{{Name: "a", Owner: "a", Paths: []string{a}}, {Name: "b", Owner: "b", Paths: []string{b}}})
		if len(refs) > 2 {
			t.Fatalf("CheckSet returned %d refusals for 2 rows", len(refs))
		}
		if CheckPath("a", a) == nil && CheckPath("b", b) == nil && a != Shared && b != Shared {
			if want := Overlap(a, b); want != (len(refs) == 1) {
				t.Fatalf("CheckSet(%q, %q) = %v; overlap = %v", a, b, refs, want)
			}
			if len(refs) == 1 && refs[0].Index != 1 {
				t.Fatalf("CheckSet refused the first row of (%q, %q)", a, b)
			}
		}
	})
}

// CheckSetAccepts reports whether a lone row mounted on p is accepted.
func CheckSetAccepts(p string) bool {
	return len(CheckSet([]Row{{Name: "m", Owner: "m", Paths: []string{p}}})) == 0
}
