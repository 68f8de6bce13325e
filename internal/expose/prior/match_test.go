package prior

import (
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/expose/state"
)

func TestIsConnectorOf(t *testing.T) {
	rec := state.LegacyTunnel{Name: "parachute-hub", UUID: "6ff42ae2-765d-4adf-8112-31c55c1551ef", ConfigPath: "/home/a/.parachute/cloudflared/parachute-hub/config.yml"}
	for _, tc := range []struct {
		name string
		argv string
		want bool
	}{
		{"the reference's transient connector", "/usr/local/bin/cloudflared tunnel --config /home/a/.parachute/cloudflared/parachute-hub/config.yml run", true},
		{"--config=", "cloudflared tunnel --config=/home/a/.parachute/cloudflared/parachute-hub/config.yml run", true},
		{"run by name", "cloudflared tunnel run parachute-hub", true},
		{"run by uuid", "/opt/homebrew/bin/cloudflared tunnel --no-autoupdate run 6ff42ae2-765d-4adf-8112-31c55c1551ef", true},
		{"under an interpreter", "/usr/bin/qemu-x86_64 /usr/bin/cloudflared tunnel --config /home/a/.parachute/cloudflared/parachute-hub/config.yml run", true},
		{"another tunnel's config", "cloudflared tunnel --config /home/a/.parachute/cloudflared/other/config.yml run", false},
		{"another tunnel's name", "cloudflared tunnel run other", false},
		{"name before run is not the tunnel", "cloudflared tunnel --loglevel parachute-hub run", false},
		{"not running a tunnel", "cloudflared tunnel route dns --overwrite-dns parachute-hub hub.example.com", false},
		{"an editor on the config", "vim /home/a/.parachute/cloudflared/parachute-hub/config.yml", false},
		{"tail of the log", "tail -f /home/a/.parachute/cloudflared/parachute-hub/cloudflared.log", false},
		{"a program named like it", "/usr/bin/cloudflared-helper tunnel --config /home/a/.parachute/cloudflared/parachute-hub/config.yml run", false},
		{"sleep", "sleep 1000", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsConnectorOf(strings.Fields(tc.argv), rec); got != tc.want {
				t.Errorf("IsConnectorOf(%q) = %v, want %v", tc.argv, got, tc.want)
			}
		})
	}
	if IsConnectorOf([]string{"cloudflared", "tunnel", "run", ""}, state.LegacyTunnel{}) {
		t.Error("an empty record matched")
	}
}

func TestParsePS(t *testing.T) {
	p, err := parsePS("   42   501     1 Ss   /opt/homebrew/bin/cloudflared tunnel --config /Users/a/.parachute/cloudflared/t/config.yml run")
	if err != nil || p.PPID != 1 || p.PID != 42 || p.UID != 501 || len(p.Argv) != 5 || p.Argv[4] != "run" {
		t.Fatalf("parsePS = %+v, %v", p, err)
	}
	if _, err := parsePS("42 501 1 Z    (cloudflared)"); err != ErrNoProcess {
		t.Fatalf("zombie: %v", err)
	}
	for _, bad := range []string{"x 501 1 S cloudflared", "42 501 -1 S cloudflared", "42 501 1 S", ""} {
		if _, err := parsePS(bad); err == nil || err == ErrNoProcess {
			t.Errorf("parsePS(%q) accepted", bad)
		}
	}
}

// FuzzIsConnectorOf feeds process command lines (untrusted: any local
// user's process) to the matcher and ps's output to its parser.
func FuzzIsConnectorOf(f *testing.F) {
	f.Add("/usr/local/bin/cloudflared\x00tunnel\x00--config\x00/c/config.yml\x00run", "/c/config.yml", "t")
	f.Add("cloudflared\x00tunnel\x00run\x00t", "", "t")
	f.Add("sleep\x001000", "/c/config.yml", "t")
	f.Add("  42  501  1 Ss cloudflared tunnel --config /c/config.yml run", "/c/config.yml", "")
	f.Fuzz(func(t *testing.T, cmdline, cfg, name string) {
		rec := state.LegacyTunnel{Name: name, ConfigPath: cfg}
		argv := strings.Split(cmdline, "\x00")
		got := IsConnectorOf(argv, rec)
		if got && !strings.Contains(cmdline, "cloudflared") {
			t.Fatalf("matched without cloudflared: %q", argv)
		}
		if got && cfg == "" && name == "" {
			t.Fatalf("matched an empty record: %q", argv)
		}
		if p, err := parsePS(cmdline); err == nil && (p.PID < 0 || p.PPID < 0 || len(p.Argv) == 0) {
			t.Fatalf("parsePS(%q) = %+v", cmdline, p)
		}
	})
}
