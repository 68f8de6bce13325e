package hub

import (
	"slices"
	"testing"

	"github.com/openparachute/parachute/internal/manifest"
)

func TestHostAndOriginGuards(t *testing.T) {
	o := Origins{Port: 1939, Configured: "https://hub.example", ExtraHosts: []string{"box.tailnet.ts.net"}}
	hosts := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:1939", true},
		{"localhost:1939", true},
		{"[::1]:1939", true},
		{"LOCALHOST:1939", true},
		{"127.0.0.1:1940", false},
		{"hub.example", true},
		{"box.tailnet.ts.net", true},
		{"evil.example:1939", false},
		{"evil.example", false},
		{"", false},
	}
	for _, c := range hosts {
		if got := o.hostAllowed(c.host); got != c.want {
			t.Errorf("hostAllowed(%q) = %v, want %v", c.host, got, c.want)
		}
	}
	origins := []struct {
		origin string
		want   bool
	}{
		{"http://127.0.0.1:1939", true},
		{"https://hub.example", true},
		{"http://evil.example", false},
		{"null", false},
	}
	for _, c := range origins {
		if got := o.originAllowed(c.origin); got != c.want {
			t.Errorf("originAllowed(%q) = %v, want %v", c.origin, got, c.want)
		}
	}
	if got, want := o.Issuer(), "https://hub.example"; got != want {
		t.Errorf("Issuer = %q, want %q", got, want)
	}
	if got, want := (Origins{Port: 2000}).Issuer(), "http://127.0.0.1:2000"; got != want {
		t.Errorf("Issuer without configured origin = %q, want %q", got, want)
	}
}

func TestMatchMount(t *testing.T) {
	f := &manifest.File{Services: []manifest.Service{
		{Name: "parachute-vault", Port: 1940, Paths: []string{"/vault/default/"}},
		{Name: "app", Port: 1950, Paths: []string{"/app"}},
		{Name: "app-admin", Port: 1951, Paths: []string{"/app/admin"}},
	}}
	cases := []struct {
		path     string
		wantName string
		ok       bool
	}{
		{"/vault/default", "parachute-vault", true},
		{"/vault/default/mcp", "parachute-vault", true},
		{"/vault/other", "", false},
		{"/app/admin/x", "app-admin", true},
		{"/app/x", "app", true},
		{"/appx", "", false},
		{"/", "", false},
	}
	for _, c := range cases {
		row, _, ok := matchMount(f, c.path)
		if ok != c.ok || row.Name != c.wantName {
			t.Errorf("matchMount(%q) = %q, %v; want %q, %v", c.path, row.Name, ok, c.wantName, c.ok)
		}
	}
}

func TestModuleHealthPath(t *testing.T) {
	yes := true
	cases := []struct {
		name string
		row  manifest.Service
		want string
	}{
		{"kept prefix", manifest.Service{Paths: []string{"/vault/default"}, Health: "/vault/default/health"}, "/vault/default/health"},
		{"stripped prefix", manifest.Service{Paths: []string{"/scribe"}, Health: "/scribe/health", StripPrefix: &yes}, "/health"},
		{"no health", manifest.Service{Paths: []string{"/x"}}, "/health"},
	}
	for _, c := range cases {
		if got := moduleHealthPath(c.row); got != c.want {
			t.Errorf("%s: moduleHealthPath = %q, want %q", c.name, got, c.want)
		}
	}
}

// The exposed origin (expose-state, through Exposed) is the issuer when
// nothing configured outranks it, its host passes the Host guard (Tailscale
// Serve and cloudflared forward the public Host), and the operator token's
// issuer (StableIssuer) ignores it so `expose off` cannot lock the CLI out.
func TestOriginsFollowExposure(t *testing.T) {
	exposed := []string{"https://box.tail1.ts.net"}
	o := Origins{Port: 1939, Exposed: func() []string { return exposed }}
	if got := o.Issuer(); got != "https://box.tail1.ts.net" {
		t.Errorf("Issuer = %q", got)
	}
	if got := o.StableIssuer(); got != "http://127.0.0.1:1939" {
		t.Errorf("StableIssuer = %q", got)
	}
	if !o.hostAllowed("box.tail1.ts.net") || !o.originAllowed("https://box.tail1.ts.net") {
		t.Error("exposed host/origin refused")
	}
	setting := "https://admin.example"
	o.Setting = func() string { return setting }
	o.Configured = "https://env.example"
	if got := o.Issuer(); got != setting {
		t.Errorf("Issuer with a setting = %q", got)
	}
	want := []string{setting, "https://env.example", "https://box.tail1.ts.net", "http://127.0.0.1:1939", "http://localhost:1939", "http://[::1]:1939"}
	if got := o.Accepted(); !slices.Equal(got, want) {
		t.Errorf("Accepted = %q, want %q", got, want)
	}
	exposed = nil
	o.Setting, o.Configured = nil, ""
	if o.hostAllowed("box.tail1.ts.net") {
		t.Error("host still allowed after the exposure went away")
	}
}
