package config

import "testing"

func TestConfiguredIssuer(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"none", nil, ""},
		{"hub origin wins", map[string]string{"PARACHUTE_HUB_ORIGIN": "https://hub.example/", "RENDER_EXTERNAL_URL": "https://r.example"}, "https://hub.example"},
		{"render", map[string]string{"RENDER_EXTERNAL_URL": "https://r.example//"}, "https://r.example"},
		{"fly", map[string]string{"FLY_APP_NAME": "myhub"}, "https://myhub.fly.dev"},
		{"fly with slash ignored", map[string]string{"FLY_APP_NAME": "a/b"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ConfiguredIssuer(func(k string) string { return c.env[k] })
			if got != c.want {
				t.Fatalf("ConfiguredIssuer = %q, want %q", got, c.want)
			}
		})
	}
}
