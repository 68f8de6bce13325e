package settings

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolveChannel(t *testing.T) {
	cases := []struct {
		name      string
		stored    string
		env       map[string]string
		ch, src   string
		nWarnings int
	}{
		{name: "nothing", ch: "latest", src: SourceDefault},
		{name: "stored", stored: "rc", ch: "rc", src: SourceSettings},
		{name: "env wins", stored: "rc", env: map[string]string{"PARACHUTE_INSTALL_CHANNEL": "latest"}, ch: "latest", src: SourceEnv},
		{name: "legacy env", env: map[string]string{"PARACHUTE_MODULE_CHANNEL": "rc"}, ch: "rc", src: SourceEnv},
		{name: "canonical before legacy", env: map[string]string{"PARACHUTE_INSTALL_CHANNEL": "latest", "PARACHUTE_MODULE_CHANNEL": "rc"}, ch: "latest", src: SourceEnv},
		{name: "invalid env skipped", stored: "rc", env: map[string]string{"PARACHUTE_INSTALL_CHANNEL": "beta"}, ch: "rc", src: SourceSettings, nWarnings: 1},
		{name: "invalid stored ignored", stored: "nightly", ch: "latest", src: SourceDefault, nWarnings: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, src, warns := ResolveChannel(c.stored, func(k string) string { return c.env[k] })
			if diff := cmp.Diff([]any{c.ch, c.src, c.nWarnings}, []any{ch, src, len(warns)}); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}
