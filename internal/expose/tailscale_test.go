package expose

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/expose/state"
)

const (
	tsStatus = "status --json"
	tsServeS = "serve status --json"
)

// words splits a command line written in a test into argv.
func words(s string) []string { return strings.Fields(s) }

func seq(lines ...string) [][]string {
	out := make([][]string, len(lines))
	for i, l := range lines {
		out[i] = words(l)
	}
	return out
}

func TestTailscaleUpAndOffArgv(t *testing.T) {
	cases := []struct {
		name, version, layer string
		up, off              [][]string
	}{
		{"tailnet 1.82", "1.82.0", state.LayerTailnet,
			seq("tailscale version", "tailscale "+tsStatus, "tailscale "+tsServeS,
				"tailscale serve --bg --https=443 --set-path=/ http://127.0.0.1:1939/"),
			seq("tailscale version", "tailscale "+tsServeS, "tailscale serve --https=443 --set-path=/ off")},
		{"public 1.82: funnel is its own subcommand", "1.82.0", state.LayerPublic,
			seq("tailscale version", "tailscale "+tsStatus, "tailscale "+tsServeS,
				"tailscale funnel --bg --https=443 --set-path=/ http://127.0.0.1:1939/"),
			seq("tailscale version", "tailscale "+tsServeS, "tailscale funnel --https=443 --set-path=/ off")},
		{"public 1.80: funnel rides on serve", "1.80.3", state.LayerPublic,
			seq("tailscale version", "tailscale "+tsStatus, "tailscale "+tsServeS,
				"tailscale serve --bg --funnel --https=443 --set-path=/ http://127.0.0.1:1939/"),
			seq("tailscale version", "tailscale "+tsServeS, "tailscale serve --funnel --https=443 --set-path=/ off")},
		{"tailnet 1.80", "1.80.3", state.LayerTailnet,
			seq("tailscale version", "tailscale "+tsStatus, "tailscale "+tsServeS,
				"tailscale serve --bg --https=443 --set-path=/ http://127.0.0.1:1939/"),
			seq("tailscale version", "tailscale "+tsServeS, "tailscale serve --https=443 --set-path=/ off")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, root := fakes(t), t.TempDir()
			writeFake(t, dir, "version", c.version)
			ts := &Tailscale{}
			rec, err := ts.Up(context.Background(), TailscaleOptions{Root: root, Layer: c.layer, HubPort: 1939})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.up, argvLog(t, dir)); diff != "" {
				t.Errorf("up argv (-want +got):\n%s", diff)
			}
			want := &state.Record{Version: 1, Layer: c.layer, Mode: "path", CanonicalFQDN: "box.tail1234.ts.net", Port: 443,
				Funnel: c.layer == state.LayerPublic, HubPort: 1939,
				Entries: []state.Entry{{Kind: "proxy", Mount: "/", Target: "http://127.0.0.1:1939/", Service: "hub"}}}
			if diff := cmp.Diff(want, rec); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			st, err := state.Load(root)
			if err != nil || st.Providers[state.Tailscale] == nil {
				t.Fatalf("state after up: %v %v", st, err)
			}
			if _, err := ts.Down(context.Background(), root, c.layer, nil); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.off, argvLog(t, dir)); diff != "" {
				t.Errorf("off argv (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(filepath.Join(root, state.StateFile)); !os.IsNotExist(err) {
				t.Errorf("state file still there after off: %v", err)
			}
		})
	}
}

// The operator's own serve config (another mount on 443, another port)
// survives up and off; a handler of theirs at "/" makes up refuse.
func TestTailscaleLeavesTheOperatorsServeConfigAlone(t *testing.T) {
	dir, root := fakes(t), t.TempDir()
	writeFake(t, dir, "version", "1.82.0")
	theirs := `{"TCP":{"443":{"HTTPS":true},"8443":{"HTTPS":true}},"Web":{` +
		`"box.tail1234.ts.net:443":{"Handlers":{"/grafana":{"Proxy":"http://127.0.0.1:3000"}}},` +
		`"box.tail1234.ts.net:8443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:8080"}}}}}`
	writeFake(t, dir, "serve.json", theirs)
	ts := &Tailscale{}
	if _, err := ts.Up(context.Background(), TailscaleOptions{Root: root, Layer: state.LayerTailnet, HubPort: 1939}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Down(context.Background(), root, state.LayerTailnet, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := fakeFile("serve.json")
	h, err := parseServeHandlers([]byte(got), "box.tail1234.ts.net:443")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"/grafana": "http://127.0.0.1:3000"}, h); diff != "" {
		t.Errorf("443 handlers after off (-want +got):\n%s", diff)
	}
	h8443, _ := parseServeHandlers([]byte(got), "box.tail1234.ts.net:8443")
	if diff := cmp.Diff(map[string]string{"/": "http://127.0.0.1:8080"}, h8443); diff != "" {
		t.Errorf("8443 handlers after off (-want +got):\n%s", diff)
	}

	// Their handler at "/": up refuses and runs no serve command.
	writeFake(t, dir, "serve.json", `{"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}}}}`)
	argvLog(t, dir)
	_, err = ts.Up(context.Background(), TailscaleOptions{Root: root, Layer: state.LayerTailnet, HubPort: 1939})
	if !errors.Is(err, ErrServeConflict) {
		t.Fatalf("Up over their / = %v, want ErrServeConflict", err)
	}
	for _, argv := range argvLog(t, dir) {
		if argv[1] == "serve" && argv[2] != "status" {
			t.Errorf("ran %q over the operator's handler", argv)
		}
	}

	// Off when they re-pointed "/" after our up: left alone, state cleared.
	writeFake(t, dir, "serve.json", `{}`)
	if _, err := ts.Up(context.Background(), TailscaleOptions{Root: root, Layer: state.LayerTailnet, HubPort: 1939}); err != nil {
		t.Fatal(err)
	}
	writeFake(t, dir, "serve.json", `{"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:3000"}}}}}`)
	argvLog(t, dir)
	var lines []string
	if _, err := ts.Down(context.Background(), root, state.LayerTailnet, func(f string, a ...any) { lines = append(lines, f) }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seq("tailscale version", "tailscale "+tsServeS), argvLog(t, dir)); diff != "" {
		t.Errorf("off over a re-pointed / (-want +got):\n%s", diff)
	}
}

// Switching layers tears the prior one down with its own verb first.
func TestTailscaleSwitchLayers(t *testing.T) {
	dir, root := fakes(t), t.TempDir()
	writeFake(t, dir, "version", "1.82.0")
	ts := &Tailscale{}
	if _, err := ts.Up(context.Background(), TailscaleOptions{Root: root, Layer: state.LayerTailnet, HubPort: 1939}); err != nil {
		t.Fatal(err)
	}
	argvLog(t, dir)
	rec, err := ts.Up(context.Background(), TailscaleOptions{Root: root, Layer: state.LayerPublic, HubPort: 1939, HubOrigin: "https://hub.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	want := seq("tailscale version", "tailscale "+tsStatus,
		"tailscale "+tsServeS, "tailscale serve --https=443 --set-path=/ off",
		"tailscale "+tsServeS, "tailscale funnel --bg --https=443 --set-path=/ http://127.0.0.1:1939/")
	if diff := cmp.Diff(want, argvLog(t, dir)); diff != "" {
		t.Errorf("switch argv (-want +got):\n%s", diff)
	}
	if rec.HubOrigin != "https://hub.example.com" || rec.Origin() != "https://hub.example.com" {
		t.Errorf("--hub-origin not recorded: %+v", rec)
	}
	// tailnet off while public is recorded touches nothing.
	_, err = ts.Down(context.Background(), root, state.LayerTailnet, nil)
	var ole *OtherLayerError
	if !errors.As(err, &ole) || ole.Current != state.LayerPublic {
		t.Fatalf("tailnet off with public recorded = %v", err)
	}
	if got := argvLog(t, dir); got != nil {
		t.Errorf("ran %q", got)
	}
}

func TestTailscaleNotReady(t *testing.T) {
	cases := []struct {
		name, version string
		files         map[string]string
		layer         string
		want          error
		wantText      string
	}{
		{"logged out", "1.82.0", map[string]string{"logged-out": ""}, state.LayerTailnet, ErrNotLoggedIn, "tailscale up"},
		{"daemon down", "1.82.0", map[string]string{"daemon-down": ""}, state.LayerTailnet, nil, "doesn't appear to be running"},
		{"too old", "1.50.1", nil, state.LayerTailnet, ErrTailscaleTooOld, "1.52.0 or newer"},
		{"funnel not granted", "1.82.0", map[string]string{}, state.LayerPublic, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, root := fakes(t), t.TempDir()
			writeFake(t, dir, "version", c.version)
			for k, v := range c.files {
				writeFake(t, dir, k, v)
			}
			if c.name == "funnel not granted" {
				// Parse a status without the funnel capability directly.
				st, err := parseStatus([]byte(`{"BackendState":"Running","Self":{"DNSName":"b.ts.net.","CapMap":{"https://tailscale.com/cap/funnel-ports?ports=443":null}}}`))
				if err != nil || st.FunnelCapable || !st.LoggedIn() {
					t.Fatalf("funnel-ports alone counted as funnel: %+v %v", st, err)
				}
				return
			}
			_, err := (&Tailscale{}).Up(context.Background(), TailscaleOptions{Root: root, Layer: c.layer, HubPort: 1939})
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.wantText) {
				t.Fatalf("Up = %v, want %v containing %q", err, c.want, c.wantText)
			}
			for _, argv := range argvLog(t, dir) {
				if (argv[1] == "serve" || argv[1] == "funnel") && argv[2] != "status" {
					t.Errorf("ran %q although not ready", argv)
				}
			}
		})
	}
	t.Run("not installed", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := (&Tailscale{}).Up(context.Background(), TailscaleOptions{Root: t.TempDir(), Layer: state.LayerTailnet, HubPort: 1939})
		if !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("Up = %v, want ErrNotInstalled", err)
		}
	})
}

func TestTailscaleMalformedStateStopsBeforeAnyChange(t *testing.T) {
	dir, root := fakes(t), t.TempDir()
	writeFake(t, dir, "version", "1.82.0")
	if err := os.WriteFile(filepath.Join(root, state.StateFile), []byte(`{"version":1,"layer":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Tailscale{}).Up(context.Background(), TailscaleOptions{Root: root, Layer: state.LayerTailnet, HubPort: 1939}); !errors.Is(err, state.ErrMalformed) {
		t.Fatalf("Up = %v, want ErrMalformed", err)
	}
	if _, err := (&Tailscale{}).Down(context.Background(), root, state.LayerTailnet, nil); !errors.Is(err, state.ErrMalformed) {
		t.Fatalf("Down = %v, want ErrMalformed", err)
	}
	for _, argv := range argvLog(t, dir) {
		if (argv[1] == "serve" || argv[1] == "funnel") && argv[2] != "status" {
			t.Errorf("ran %q over a malformed state file", argv)
		}
	}
}

func TestTailscaleDownNothingRecorded(t *testing.T) {
	fakes(t)
	if _, err := (&Tailscale{}).Down(context.Background(), t.TempDir(), state.LayerTailnet, nil); !errors.Is(err, ErrNothingRecorded) {
		t.Fatalf("Down = %v", err)
	}
}
