package mounts

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		path string
		want error // nil, ErrInvalid or ErrReserved
	}{
		{"plain", "/echo", nil},
		{"nested", "/vault/default", nil},
		{"unreserved punctuation", "/my-mod_2.0~x", nil},
		{"uppercase", "/Echo", nil},
		{"shared marker", "/.parachute", nil},
		{"dot-prefixed segment", "/.git", nil},
		{"lookalike of a reserved prefix", "/apix", nil},
		{"reserved prefix as a segment further down", "/echo/api", nil},
		{"vault is checked by CheckPath", "/vault/work", nil},
		{"max length", "/" + strings.Repeat("a", MaxLen-1), nil},

		{"empty", "", ErrInvalid},
		{"relative", "echo", ErrInvalid},
		{"too long", "/" + strings.Repeat("a", MaxLen), ErrInvalid},
		{"trailing slash", "/echo/", ErrInvalid},
		{"double slash", "//echo", ErrInvalid},
		{"inner double slash", "/echo//x", ErrInvalid},
		{"dot segment", "/echo/./x", ErrInvalid},
		{"dotdot escape", "/../../etc", ErrInvalid},
		{"dotdot inside", "/echo/../api", ErrInvalid},
		{"trailing dot", "/echo/.", ErrInvalid},
		{"NUL", "/echo\x00", ErrInvalid},
		{"control char", "/echo\n", ErrInvalid},
		{"percent escape", "/%61pi", ErrInvalid},
		{"encoded slash", "/echo%2fapi", ErrInvalid},
		{"backslash", `/echo\..\api`, ErrInvalid},
		{"space", "/my echo", ErrInvalid},
		{"query", "/echo?x", ErrInvalid},
		{"fragment", "/echo#x", ErrInvalid},
		{"semicolon", "/echo;x", ErrInvalid},
		{"non-ASCII", "/écho", ErrInvalid},

		{"root", "/", ErrReserved},
		{"api", "/api", ErrReserved},
		{"under api", "/api/echo", ErrReserved},
		{"api uppercase", "/API", ErrReserved},
		{"oauth", "/oauth", ErrReserved},
		{"well-known", "/.well-known", ErrReserved},
		{"under well-known", "/.well-known/parachute.json", ErrReserved},
		{"under the shared marker", "/.parachute/info", ErrReserved},
		{"admin", "/admin", ErrReserved},
		{"login", "/login", ErrReserved},
		{"logout", "/logout", ErrReserved},
		{"account", "/account/x", ErrReserved},
		{"health", "/health", ErrReserved},
		{"under health", "/health/x", ErrReserved},
		{"hub", "/hub", ErrReserved},
		{"hub.html", "/hub.html", ErrReserved},
		{"static", "/static/app.js", ErrReserved},
		{"vaults", "/vaults", ErrReserved},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.path)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Validate(%q) = %v, want nil", c.path, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Validate(%q) = %v, want %v", c.path, err, c.want)
			}
		})
	}
}

func TestCheckPathOwnedPrefix(t *testing.T) {
	cases := []struct {
		owner, path string
		ok          bool
	}{
		{"vault", "/vault/default", true},
		{"vault", "/vault/work", true},
		{"echo", "/vault/default", false},
		{"echo", "/vault", false},
		{"echo", "/Vault/x", false},
		{"echo", "/vaultx", true},
		{"vault", "/api", false},
		{"echo", Shared, true},
	}
	for _, c := range cases {
		err := CheckPath(c.owner, c.path)
		if (err == nil) != c.ok {
			t.Errorf("CheckPath(%q, %q) = %v, want ok=%v", c.owner, c.path, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrReserved) {
			t.Errorf("CheckPath(%q, %q) = %v, want ErrReserved", c.owner, c.path, err)
		}
	}
}

func TestOverlap(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"/echo", "/echo", true},
		{"/echo", "/echo/api", true},
		{"/echo/api", "/echo", true},
		{"/echo/", "/echo", true},
		{"/echo", "/echo2", false},
		{"/echo2", "/echo", false},
		{"/echo-x", "/echo", false},
		{"/a/b", "/a/c", false},
		{"/", "/anything", true},
		{"/vault/default", "/vault/work", false},
	}
	for _, c := range cases {
		if got := Overlap(c.a, c.b); got != c.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestHubOwned(t *testing.T) {
	cases := map[string]bool{
		"/api": true, "/api/foo": true, "/oauth/x": true, "/.well-known/x": true, "/ADMIN/": true,
		"/": false, "/echo": false, "/apix": false, "/vault/default": false, "/echo/api": false,
	}
	for p, want := range cases {
		if got := HubOwned(p); got != want {
			t.Errorf("HubOwned(%q) = %v, want %v", p, got, want)
		}
	}
}

// refusal is a Refusal without its error text, for table comparisons.
type refusal struct {
	Index     int
	Path      string
	Other     int
	OtherPath string
	Kind      error
}

func TestCheckSet(t *testing.T) {
	row := func(name, owner string, paths ...string) Row { return Row{Name: name, Owner: owner, Paths: paths} }
	cases := []struct {
		name string
		rows []Row
		want []refusal
	}{
		{"disjoint modules", []Row{
			row("echo", "echo", "/echo"), row("echo2", "echo2", "/echo2"),
		}, nil},
		{"sub-path of another module", []Row{
			row("echo", "echo", "/echo"), row("spy", "spy", "/echo/api"),
		}, []refusal{{Index: 1, Path: "/echo/api", Other: 0, OtherPath: "/echo", Kind: ErrOverlap}}},
		{"parent of another module: first registered wins", []Row{
			row("inner", "inner", "/a/b"), row("outer", "outer", "/a"),
		}, []refusal{{Index: 1, Path: "/a", Other: 0, OtherPath: "/a/b", Kind: ErrOverlap}}},
		{"same mount", []Row{
			row("one", "one", "/x"), row("two", "two", "/y", "/x"),
		}, []refusal{{Index: 1, Path: "/x", Other: 0, OtherPath: "/x", Kind: ErrOverlap}}},
		{"vault instances nest under one module", []Row{
			row("parachute-vault", "vault", "/vault/default", "/vault/default/mcp"),
			row("parachute-vault-work", "vault", "/vault/work"),
			row("parachute-vault-x", "vault", "/vault/default/x"),
		}, nil},
		{"third party under a vault", []Row{
			row("parachute-vault", "vault", "/vault/default"), row("spy", "spy", "/vault/default/mcp"),
		}, []refusal{{Index: 1, Path: "/vault/default/mcp", Other: -1, Kind: ErrReserved}}},
		{"shared marker is not an overlap", []Row{
			row("parachute-runner", "runner", "/runner", Shared), row("parachute-surface", "surface", "/surface", Shared),
		}, nil},
		{"reserved and invalid rows are refused and claim nothing", []Row{
			row("root", "root", "/"),
			row("api", "api", "/good", "/api"),
			row("wk", "wk", "/.well-known"),
			row("dots", "dots", "/../../etc"),
			row("nul", "nul", "/x\x00"),
			row("good", "good", "/good"),
		}, []refusal{
			{Index: 0, Path: "/", Other: -1, Kind: ErrReserved},
			{Index: 1, Path: "/api", Other: -1, Kind: ErrReserved},
			{Index: 2, Path: "/.well-known", Other: -1, Kind: ErrReserved},
			{Index: 3, Path: "/../../etc", Other: -1, Kind: ErrInvalid},
			{Index: 4, Path: "/x\x00", Other: -1, Kind: ErrInvalid},
		}},
		{"duplicate name", []Row{
			row("echo", "echo", "/echo"), row("other", "other", "/other"), row("echo", "echo", "/echo2"),
		}, []refusal{{Index: 2, Other: 0, Kind: ErrDuplicate}}},
		{"duplicate of a refused row is still a duplicate", []Row{
			row("echo", "echo", "/api"), row("echo", "echo", "/echo"),
		}, []refusal{
			{Index: 0, Path: "/api", Other: -1, Kind: ErrReserved},
			{Index: 1, Other: 0, Kind: ErrDuplicate},
		}},
		{"no paths", []Row{row("cli", "cli")}, nil},
	}
	kinds := []error{ErrInvalid, ErrReserved, ErrOverlap, ErrDuplicate}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []refusal
			for _, r := range CheckSet(c.rows) {
				g := refusal{Index: r.Index, Path: r.Path, Other: r.Other, OtherPath: r.OtherPath}
				for _, k := range kinds {
					if errors.Is(r, k) {
						g.Kind = k
					}
				}
				if r.Name != c.rows[r.Index].Name {
					t.Errorf("refusal %d names %q, want %q", r.Index, r.Name, c.rows[r.Index].Name)
				}
				if r.Other >= 0 && !strings.Contains(r.Error(), c.rows[r.Other].Name) {
					t.Errorf("refusal %q does not name the other row %q", r.Error(), c.rows[r.Other].Name)
				}
				got = append(got, g)
			}
			if d := cmp.Diff(c.want, got, cmp.Comparer(func(a, b error) bool { return a == b })); d != "" {
				t.Errorf("CheckSet (-want +got):\n%s", d)
			}
		})
	}
}

func TestRefusalMessages(t *testing.T) {
	refs := CheckSet([]Row{
		{Name: "echo", Owner: "echo", Paths: []string{"/echo"}, Label: `services[0] ("echo")`},
		{Name: "spy", Owner: "spy", Paths: []string{"/echo/api"}, Label: `services[1] ("spy")`},
		{Name: "echo", Owner: "echo", Paths: []string{"/echo2"}, Label: `services[2] ("echo")`},
	})
	var got []string
	for _, r := range refs {
		got = append(got, r.Error())
	}
	want := []string{
		`mount overlaps another module: services[1] ("spy") mount "/echo/api" lies under "/echo" of services[0] ("echo"), which was registered first (its requests, cookies and Authorization headers would reach the wrong module)`,
		`duplicate module name: services[2] ("echo") repeats the name of services[0] ("echo"); only the first is started, so this row is not routed — remove one of them from services.json`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("messages (-want +got):\n%s", d)
	}
}
