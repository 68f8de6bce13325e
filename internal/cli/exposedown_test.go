package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// TestExposeRefusesWhileTheHubIsDown: exposing a hub that does not answer
// would publish a URL that answers 502 while the summary says it is
// reachable. Like the reference (lifecycle.md §6.2 step 9, §8 case 90),
// expose makes sure the hub is up first and stops before any provider
// command when it cannot be, saying how to start it.
func TestExposeRefusesWhileTheHubIsDown(t *testing.T) {
	for _, args := range [][]string{
		{"expose", "tailnet"},
		{"expose", "public", "--tailnet"},
		{"expose", "cloudflare", "--domain", "hub.example.com"},
	} {
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
			fake := exposetest.Install(t)
			exposetest.Write(t, fake, "version", "1.82.0")
			root, home := t.TempDir(), t.TempDir()
			t.Setenv("PARACHUTE_HOME", root)
			t.Setenv("HOME", home)
			t.Setenv("PARACHUTE_HUB_URL", "http://127.0.0.1:"+strconv.Itoa(freeTCPPort(t)))
			if err := os.MkdirAll(filepath.Join(home, ".cloudflared"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(home, ".cloudflared", "cert.pem"), []byte("cert"), 0o600); err != nil {
				t.Fatal(err)
			}
			old := newExposeHost
			newExposeHost = func(*env) exposeHost {
				return exposeHost{stdin: strings.NewReader(""), home: home, user: "alice",
					mgr: func() (servicemgr.Manager, error) { return nil, servicemgr.ErrNoManager }}
			}
			t.Cleanup(func() { newExposeHost = old })

			code, out, errOut := runCLI(t, args...)
			if code != ExitFail {
				t.Errorf("exit %d, want %d\n%s\n%s", code, ExitFail, out, errOut)
			}
			if !strings.Contains(errOut, "the hub is not running") || !strings.Contains(errOut, "parachute serve") {
				t.Errorf("stderr does not say the hub is down and how to start it:\n%s", errOut)
			}
			if strings.Contains(out, "Reachable now") {
				t.Errorf("claims the hub is reachable:\n%s", out)
			}
			for _, argv := range exposetest.Argv(t, fake) {
				switch strings.Join(argv[1:], " ") {
				case "version", "--version", "status --json", "serve status --json", "tunnel list --output json":
					// Read-only probes are harmless.
				default:
					t.Errorf("ran %q with the hub down", argv)
				}
			}
			if _, err := os.Stat(filepath.Join(root, "expose-state.json")); err == nil {
				t.Errorf("recorded an exposure of a hub that is down")
			}
		})
	}
}
