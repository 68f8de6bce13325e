package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// TestMain lets this test binary play tailscale, cloudflared and the
// modules of the expose tests' real hub.
func TestMain(m *testing.M) {
	exposetest.RunIfFake()
	runIfTestModule()
	os.Exit(m.Run())
}

func TestParseExposeArgs(t *testing.T) {
	cases := []struct {
		name string
		args string
		want exposeArgs
		help bool
		err  string // substring of the message; "" = no error
	}{
		{"tailnet up", "tailnet", exposeArgs{layer: "tailnet"}, false, ""},
		{"tailnet off", "tailnet off", exposeArgs{layer: "tailnet", mode: "off"}, false, ""},
		{"public funnel pinned", "public --tailscale", exposeArgs{layer: "public", tailnet: true}, false, ""},
		{"cloudflare layer rewritten", "cloudflare --domain h.example.com --tunnel-name=t1",
			exposeArgs{layer: "public", cloudflare: true, domain: "h.example.com", tunnelName: "t1"}, false, ""},
		{"hub origin normalised", "tailnet --hub-origin https://hub.example.com/ --json",
			exposeArgs{layer: "tailnet", hubOrigin: "https://hub.example.com", json: true}, false, ""},
		{"help as layer", "--help", exposeArgs{}, true, ""},
		{"help as mode", "public -h", exposeArgs{layer: "public"}, true, ""},
		{"help after flags", "public --cloudflare help", exposeArgs{cloudflare: true}, true, ""},
		{"hub-origin without value", "tailnet --hub-origin", exposeArgs{}, false, "--hub-origin requires a URL argument"},
		{"hub-origin not a URL", "tailnet --hub-origin hub.example.com", exposeArgs{}, false, "must look like https://"},
		{"domain without value", "public --cloudflare --domain", exposeArgs{}, false, "--domain requires a hostname argument"},
		{"tunnel-name without value", "public --cloudflare --tunnel-name --json", exposeArgs{}, false, "--tunnel-name requires a name argument"},
		{"both providers", "public --tailnet --cloudflare", exposeArgs{}, false, "--tailnet and --cloudflare are mutually exclusive. Pick one."},
		{"unknown layer", "lan", exposeArgs{}, false, `unknown layer "lan"`},
		{"no layer", "", exposeArgs{}, false, `unknown layer ""`},
		{"unknown mode", "public on", exposeArgs{}, false, `parachute expose public: unknown argument "on"`},
		{"extra word", "tailnet off now", exposeArgs{}, false, `unexpected argument "now"`},
		{"tailnet flag on tailnet", "tailnet --tailnet", exposeArgs{}, false, "doesn't apply to `expose tailnet`"},
		{"cloudflare on tailnet", "tailnet --cloudflare", exposeArgs{}, false, "--cloudflare only applies to `public`"},
		{"domain without cloudflare", "public --domain h.example.com", exposeArgs{}, false, "--domain and --tunnel-name go with --cloudflare"},
		{"unknown flag", "public --funnel", exposeArgs{}, false, `unknown flag "--funnel"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, help, err := parseExposeArgs(strings.Fields(c.args))
			if help != c.help {
				t.Fatalf("help = %v, want %v", help, c.help)
			}
			if c.err != "" {
				ee, ok := err.(*exitError)
				if !ok || ee.code != ExitFail || !strings.Contains(ee.msg, c.err) {
					t.Fatalf("err = %v, want exit 1 with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.help {
				if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(exposeArgs{})); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}

// cloudflaredLogin leaves the cert.pem `cloudflared tunnel login` would
// in $HOME/.cloudflared, and returns $HOME.
func cloudflaredLogin(t *testing.T) string {
	t.Helper()
	home := os.Getenv("HOME")
	if err := os.MkdirAll(filepath.Join(home, ".cloudflared"), 0o700); err != nil {
		t.Fatal(err)
	}
	exposetest.Write(t, filepath.Join(home, ".cloudflared"), "cert.pem", "cert")
	return home
}

// exposeEnv sets up a config root, the fakes and a real hub (hub.Run)
// over that root with vault and scribe running; it returns the fake's dir,
// the root and the hub. The machine has no service manager.
func exposeEnv(t *testing.T, tty bool, stdin string) (fake, root string, h *realHub) {
	fake = exposetest.Install(t)
	root = t.TempDir()
	home := t.TempDir()
	t.Setenv("PARACHUTE_HOME", root)
	t.Setenv("HOME", home)
	for _, k := range []string{"PARACHUTE_HUB_ORIGIN", "RENDER_EXTERNAL_URL", "FLY_APP_NAME", "PARACHUTE_BIND_HOST", "TUNNEL_ORIGIN_CERT", "CLOUDFLARE_API_TOKEN"} {
		t.Setenv(k, "")
	}
	h = startRealHub(t, root)
	old := newExposeHost
	newExposeHost = func(*env) exposeHost {
		return exposeHost{stdin: strings.NewReader(stdin), tty: tty, home: home, user: "alice",
			mgr: func() (servicemgr.Manager, error) { return nil, servicemgr.ErrNoManager }}
	}
	t.Cleanup(func() { newExposeHost = old })
	return fake, root, h
}

// supervisorStarted is the supervisor's line for every (re)started module.
var supervisorStarted = regexp.MustCompile(`msg="(vault|scribe|notes) started \(pid \d+\)" component=supervisor`)

// checkRestarted checks that the hub restarted vault, then scribe, since
// mark, and that the running vault and scribe processes have origin as
// their PARACHUTE_HUB_ORIGIN.
func checkRestarted(t *testing.T, h *realHub, mark int, origin string) {
	t.Helper()
	if diff := cmp.Diff([]string{"vault", "scribe"}, h.out.matches(mark, supervisorStarted)); diff != "" {
		t.Errorf("modules restarted through the hub, vault first (-want +got):\n%s", diff)
	}
	for _, m := range []string{"vault", "scribe"} {
		if got, _ := h.moduleOrigin(t, m); got != origin {
			t.Errorf("%s runs with PARACHUTE_HUB_ORIGIN=%q, want %q", m, got, origin)
		}
	}
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExposeTailnetUpAndOff(t *testing.T) {
	fake, _, h := exposeEnv(t, false, "")
	exposetest.Write(t, fake, "version", "1.82.0")
	_, vaultPID := h.moduleOrigin(t, "vault")
	if o, _ := h.moduleOrigin(t, "vault"); !strings.HasPrefix(o, "http://127.0.0.1:") {
		t.Fatalf("vault booted with PARACHUTE_HUB_ORIGIN=%q", o)
	}
	mark := h.out.mark()
	code, out, errOut := runCLI(t, "expose", "tailnet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"  $ tailscale serve --bg --https=443 --set-path=/ http://127.0.0.1:",
		"✓ Tailnet exposure active. Open: https://box.tail1234.ts.net/",
		"OAuth issuer: https://box.tail1234.ts.net",
		"✓ restarted vault with PARACHUTE_HUB_ORIGIN=https://box.tail1234.ts.net",
		"from: devices on your tailnet (Tailscale Serve)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	checkRestarted(t, h, mark, "https://box.tail1234.ts.net")
	if _, pid := h.moduleOrigin(t, "vault"); pid == vaultPID {
		t.Errorf("vault still runs as pid %d", pid)
	}
	exposetest.Argv(t, fake)

	code, out, _ = runCLI(t, "expose", "public", "off")
	if code != 0 || !strings.Contains(out, "No public exposure active. Nothing to tear down.") {
		t.Fatalf("public off with tailnet recorded: exit %d\n%s", code, out)
	}
	mark = h.out.mark()
	code, out, _ = runCLI(t, "expose", "tailnet", "off", "--json")
	if code != 0 {
		t.Fatalf("off exit %d: %s", code, out)
	}
	var res exposeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if res.Action != "off" || res.Provider != "tailscale" || !strings.HasPrefix(res.HubOrigin, "http://127.0.0.1:") || len(res.Restarted) != 2 {
		t.Errorf("off result = %+v", res)
	}
	checkRestarted(t, h, mark, res.HubOrigin)
	argv := exposetest.Argv(t, fake)
	if last := argv[len(argv)-1]; strings.Join(last, " ") != "tailscale serve --https=443 --set-path=/ off" {
		t.Errorf("last command %q", last)
	}
	code, out, _ = runCLI(t, "expose", "tailnet", "off")
	if code != 0 || !strings.Contains(out, "No Tailnet exposure recorded. Nothing to tear down.") {
		t.Errorf("second off: exit %d\n%s", code, out)
	}
}

func TestExposePublicNonTTY(t *testing.T) {
	t.Run("only tailscale ready: auto-picks Funnel", func(t *testing.T) {
		fake, _, _ := exposeEnv(t, false, "")
		exposetest.Write(t, fake, "version", "1.80.3")
		code, out, errOut := runCLI(t, "expose", "public")
		if code != 0 || !strings.Contains(out, "Auto-detected Tailscale Funnel as the only configured provider.") ||
			!strings.Contains(out, "$ tailscale serve --bg --funnel --https=443") || !strings.Contains(out, "⚠ /login is now reachable on the public internet") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		code, out, _ = runCLI(t, "expose", "public", "off")
		if code != 0 || !strings.Contains(out, "✓ Public (Funnel) exposure removed") {
			t.Fatalf("public off: exit %d\n%s", code, out)
		}
	})
	t.Run("nothing ready: both options and exit 1", func(t *testing.T) {
		fake, _, _ := exposeEnv(t, false, "")
		exposetest.Write(t, fake, "version", "1.82.0")
		exposetest.Write(t, fake, "logged-out", "")
		code, _, errOut := runCLI(t, "expose", "public")
		if code != 1 || !strings.Contains(errOut, "no exposure provider is set up") || !strings.Contains(errOut, "Option B") {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
	})
	t.Run("cloudflare without domain", func(t *testing.T) {
		exposeEnv(t, false, "")
		code, _, errOut := runCLI(t, "expose", "public", "--cloudflare")
		if code != 1 || !strings.Contains(errOut, "--domain <hostname> is required.") {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
	})
	t.Run("tailscale missing", func(t *testing.T) {
		exposeEnv(t, false, "")
		t.Setenv("PATH", t.TempDir())
		code, _, errOut := runCLI(t, "expose", "tailnet")
		if code != 1 || !strings.Contains(errOut, "tailscale is not installed or not on PATH.") {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
	})
}

func TestExposePicker(t *testing.T) {
	t.Run("quit", func(t *testing.T) {
		fake, _, _ := exposeEnv(t, true, "q\n")
		exposetest.Write(t, fake, "version", "1.82.0")
		exposetest.Write(t, fake, "logged-out", "")
		code, out, _ := runCLI(t, "expose", "public")
		if code != 0 || !strings.Contains(out, "Neither Tailscale nor Cloudflare is set up") || !strings.Contains(out, "Nothing exposed.") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("default on enter is tailscale, not ready gives the steps", func(t *testing.T) {
		fake, _, _ := exposeEnv(t, true, "x\n\n")
		exposetest.Write(t, fake, "version", "1.82.0")
		exposetest.Write(t, fake, "logged-out", "")
		code, _, errOut := runCLI(t, "expose", "public")
		if code != 1 || !strings.Contains(errOut, "✓ install Tailscale") || !strings.Contains(errOut, "- log in: tailscale up") {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
	})
}

func TestExposeCloudflareUpAndOff(t *testing.T) {
	fake, root, h := exposeEnv(t, false, "")
	home := cloudflaredLogin(t)
	mgr := &exposetest.Manager{KindOf: servicemgr.KindSystemdUser}
	newExposeHost = func(*env) exposeHost {
		return exposeHost{stdin: strings.NewReader(""), home: home, user: "alice",
			mgr: func() (servicemgr.Manager, error) { return mgr, nil }}
	}
	mark := h.out.mark()
	code, out, errOut := runCLI(t, "expose", "cloudflare", "--domain", "hub.example.com", "--hub-origin", "https://hub.example.com/")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		`Creating Cloudflare tunnel "parachute-hub-example-com"…`,
		"✓ DNS routed.",
		"✓ Connector service parachute-cloudflared-parachute-hub-example-com.service installed and started.",
		"Open: https://hub.example.com/",
		"OAuth issuer: https://hub.example.com",
		"from: anyone on the internet (Cloudflare Tunnel parachute-hub-example-com)",
		"⚠ /login is now reachable on the public internet",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	checkRestarted(t, h, mark, "https://hub.example.com")
	if _, err := os.Stat(filepath.Join(root, "expose-last-provider.json")); err != nil {
		t.Errorf("provider not remembered: %v", err)
	}
	exposetest.Argv(t, fake)

	// `expose public off` finds the one live public exposure.
	code, out, errOut = runCLI(t, "expose", "public", "off")
	if code != 0 || !strings.Contains(out, "hub.example.com is no longer reachable through this machine.") ||
		!strings.Contains(out, "⚠ The DNS record stays: could not remove it through the Cloudflare API") || !strings.Contains(out, "Remove the CNAME hub.example.com") {
		t.Fatalf("public off: exit %d\n%s\n%s", code, out, errOut)
	}
	if diff := cmp.Diff([]string{
		"install parachute-cloudflared-parachute-hub-example-com.service start=true",
		"uninstall parachute-cloudflared-parachute-hub-example-com.service",
	}, mgr.Calls); diff != "" {
		t.Errorf("manager calls (-want +got):\n%s", diff)
	}
	if got := exposetest.Argv(t, fake); got != nil {
		t.Errorf("off ran %q", got)
	}
}

// TestExposeHonoursTheCallersContext: Main's context reaches the provider
// commands, so a cancelled caller runs none of them.
func TestExposeHonoursTheCallersContext(t *testing.T) {
	fake, _, _ := exposeEnv(t, false, "")
	exposetest.Write(t, fake, "version", "1.82.0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	if code := Main(ctx, []string{"expose", "tailnet"}, &out, &errb); code == 0 {
		t.Errorf("exit 0 with a cancelled context\n%s\n%s", out.String(), errb.String())
	}
	if argv := exposetest.Argv(t, fake); len(argv) != 0 {
		t.Errorf("ran %q with a cancelled context", argv)
	}
}
