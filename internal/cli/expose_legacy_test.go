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

// TestLegacyTunnelsAreReported: a box moved from the TypeScript hub may
// still run that hub's Cloudflare connectors (cloudflared-state.json);
// status and `expose … off` name them with the command that adopts them,
// instead of saying nothing is exposed.
func TestLegacyTunnelsAreReported(t *testing.T) {
	fake := exposetest.Install(t)
	exposetest.Write(t, fake, "version", "1.82.0")
	root, home := t.TempDir(), t.TempDir()
	t.Setenv("PARACHUTE_HOME", root)
	t.Setenv("HOME", home)
	t.Setenv("PARACHUTE_HUB_URL", "http://127.0.0.1:"+strconv.Itoa(freeTCPPort(t)))
	old := newExposeHost
	newExposeHost = func(*env) exposeHost {
		return exposeHost{stdin: strings.NewReader(""), home: home, user: "alice",
			mgr: func() (servicemgr.Manager, error) { return nil, servicemgr.ErrNoManager }}
	}
	t.Cleanup(func() { newExposeHost = old })
	if err := os.WriteFile(filepath.Join(root, "cloudflared-state.json"), []byte(`{"version":2,"tunnels":{
		"parachute-hub-example-com":{"pid":999999,"tunnelUuid":"u","tunnelName":"parachute-hub-example-com","hostname":"hub.example.com",
			"startedAt":"2026-01-01T00:00:00Z","configPath":"/x/config.yml","serviceManaged":true}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	adopt := "`parachute expose cloudflare --domain hub.example.com --tunnel-name parachute-hub-example-com`"
	for _, args := range [][]string{{"status"}, {"expose", "public", "off"}, {"expose", "cloudflare", "off"}} {
		_, out, errOut := runCLI(t, args...)
		if !strings.Contains(out, "parachute-cloudflared-parachute-hub-example-com.service") || !strings.Contains(out, adopt) {
			t.Errorf("%v does not name the previous hub's tunnel and how to adopt it:\n%s\n%s", args, out, errOut)
		}
	}
}
