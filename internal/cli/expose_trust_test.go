package cli

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/expose/exposetest"
)

// TestTrustsLoopback: the hub believes a tunnel's forwarding headers only
// when PARACHUTE_TRUSTED_PROXIES covers 127.0.0.1 (and ::1).
func TestTrustsLoopback(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		want bool
	}{
		{"unset", []string{"PATH=/bin"}, false},
		{"empty", []string{"PARACHUTE_TRUSTED_PROXIES="}, false},
		{"loopback pair", []string{"PARACHUTE_TRUSTED_PROXIES=127.0.0.1,::1"}, true},
		{"cidr", []string{"PARACHUTE_TRUSTED_PROXIES=127.0.0.0/8 ::1/128"}, true},
		{"v4 only", []string{"PARACHUTE_TRUSTED_PROXIES=127.0.0.1"}, true},
		{"a LAN proxy only", []string{"PARACHUTE_TRUSTED_PROXIES=10.0.0.5"}, false},
		{"malformed", []string{"PARACHUTE_TRUSTED_PROXIES=127.0.0.1,nonsense"}, false},
		{"last assignment wins", []string{"PARACHUTE_TRUSTED_PROXIES=127.0.0.1", "PARACHUTE_TRUSTED_PROXIES="}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := trustsLoopback(c.env); got != c.want {
				t.Errorf("trustsLoopback(%q) = %v, want %v", c.env, got, c.want)
			}
		})
	}
}

// TestExposeSaysHowClientsAreSeen: an exposure reaches the hub from
// 127.0.0.1, so unless the running hub trusts loopback's forwarding
// headers every client shares one sign-in rate limit and modules see
// 127.0.0.1; expose says so, with the setting (the hub here is this test
// process, whose environment has no PARACHUTE_TRUSTED_PROXIES).
func TestExposeSaysHowClientsAreSeen(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the hub's environment from /proc")
	}
	if os.Getenv("PARACHUTE_TRUSTED_PROXIES") != "" {
		t.Skip("this test process was started with PARACHUTE_TRUSTED_PROXIES")
	}
	fake, _, _ := exposeEnv(t, false, "")
	exposetest.Write(t, fake, "version", "1.82.0")
	code, out, errOut := runCLI(t, "expose", "tailnet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	want := "⚠ the hub sees every request through this exposure as coming from 127.0.0.1"
	if !strings.Contains(out, want) || !strings.Contains(out, "PARACHUTE_TRUSTED_PROXIES=127.0.0.1,::1") {
		t.Errorf("stdout lacks %q with the setting:\n%s", want, out)
	}
	code, out, _ = runCLI(t, "expose", "tailnet", "off")
	if code != 0 || strings.Contains(out, "PARACHUTE_TRUSTED_PROXIES") {
		t.Errorf("off: exit %d, or advice after off:\n%s", code, out)
	}
}
