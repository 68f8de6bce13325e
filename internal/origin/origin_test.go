package origin

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolvePrecedence(t *testing.T) {
	all := Inputs{
		Flag:    "https://flag.example/",
		Setting: "https://setting.example",
		Getenv: env(map[string]string{
			"PARACHUTE_HUB_ORIGIN": "https://env.example",
			"RENDER_EXTERNAL_URL":  "https://render.example",
			"FLY_APP_NAME":         "flyapp",
		}),
		Exposed: []string{"https://box.tail.ts.net", "https://hub.example.com"},
		Port:    2000,
	}
	drop := func(f func(*Inputs)) Inputs { in := all; f(&in); return in }
	cases := []struct {
		name string
		in   Inputs
		want Resolved
	}{
		{"flag wins, trailing slash trimmed", all, Resolved{"https://flag.example", SourceFlag}},
		{"setting next", drop(func(in *Inputs) { in.Flag = "" }), Resolved{"https://setting.example", SourceSetting}},
		{"env next", drop(func(in *Inputs) { in.Flag, in.Setting = "", " " }), Resolved{"https://env.example", SourceEnv}},
		{"render next", drop(func(in *Inputs) {
			in.Flag, in.Setting = "", ""
			in.Getenv = env(map[string]string{"RENDER_EXTERNAL_URL": "https://render.example/", "FLY_APP_NAME": "flyapp"})
		}), Resolved{"https://render.example", SourceRender}},
		{"fly next", drop(func(in *Inputs) {
			in.Flag, in.Setting = "", ""
			in.Getenv = env(map[string]string{"FLY_APP_NAME": "flyapp"})
		}), Resolved{"https://flyapp.fly.dev", SourceFly}},
		{"fly name with a slash ignored", drop(func(in *Inputs) {
			in.Flag, in.Setting = "", ""
			in.Getenv = env(map[string]string{"FLY_APP_NAME": "evil/x"})
		}), Resolved{"https://box.tail.ts.net", SourceExposed}},
		{"exposed next, first wins", drop(func(in *Inputs) { in.Flag, in.Setting, in.Getenv = "", "", nil }),
			Resolved{"https://box.tail.ts.net", SourceExposed}},
		{"loopback last", Inputs{Port: 2000}, Resolved{"http://127.0.0.1:2000", SourceLoopback}},
		{"loopback default port", Inputs{}, Resolved{"http://127.0.0.1:1939", SourceLoopback}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, Resolve(c.in)); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssuersAndConfigured(t *testing.T) {
	in := Inputs{Setting: "https://s.example", Exposed: []string{"https://box.ts.net", "https://s.example"}, Port: 2000,
		Getenv: env(map[string]string{"PARACHUTE_HUB_ORIGIN": "https://env.example"})}
	want := []string{"https://s.example", "https://env.example", "https://box.ts.net",
		"http://127.0.0.1:2000", "http://localhost:2000", "http://[::1]:2000"}
	if diff := cmp.Diff(want, Issuers(in)); diff != "" {
		t.Errorf("Issuers (-want +got):\n%s", diff)
	}
	if got := Configured(in); got != "https://s.example" {
		t.Errorf("Configured = %q", got)
	}
	if got := Configured(Inputs{Port: 5}); got != "" {
		t.Errorf("Configured with nothing set = %q, want empty", got)
	}
	if diff := cmp.Diff([]string{"http://127.0.0.1:1939", "http://localhost:1939", "http://[::1]:1939"}, Issuers(Inputs{})); diff != "" {
		t.Errorf("Issuers(empty) (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	for _, ok := range []string{"https://hub.example.com", "http://127.0.0.1:1939/", "https://h.example/prefix"} {
		if err := Validate(ok); err != nil {
			t.Errorf("Validate(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "hub.example.com", "ftp://x", "https://", "https://h/?q=1", "https://u:p@h"} {
		if err := Validate(bad); err == nil {
			t.Errorf("Validate(%q) = nil, want an error", bad)
		}
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
