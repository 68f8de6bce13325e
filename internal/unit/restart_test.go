package unit

import (
	"strings"
	"testing"
)

// RestartAlways (the tunnel connector) renders Restart=always and a bare
// KeepAlive=true; without it the hub's on-failure / SuccessfulExit=false
// stays.
func TestRestartAlways(t *testing.T) {
	base := Service{Name: "x.service", Label: "computer.parachute.x", Description: "x", Argv: []string{"/bin/true"}}
	for _, always := range []bool{false, true} {
		s := base
		s.RestartAlways = always
		sd, err := RenderSystemd(s)
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "Restart=on-failure\n", true: "Restart=always\n"}[always]
		if !strings.Contains(string(sd), want) {
			t.Errorf("always=%v: systemd unit lacks %q:\n%s", always, want, sd)
		}
		pl, err := RenderLaunchd(s)
		if err != nil {
			t.Fatal(err)
		}
		wantPl := map[bool]string{false: "<key>SuccessfulExit</key>", true: "<key>KeepAlive</key>\n\t\t<true/>"}[always]
		if !strings.Contains(string(pl), wantPl) {
			t.Errorf("always=%v: plist lacks %q:\n%s", always, wantPl, pl)
		}
	}
}
