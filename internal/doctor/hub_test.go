package doctor

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/hub/hubtest"
)

// TestAgainstARealHub runs the real probes against an in-process hub: its
// health, its operator token presented to /api/me, its OAuth issuer
// against the configured origin, and the port it holds. Then a token the
// hub did not mint, and one others can read, are each an error.
func TestAgainstARealHub(t *testing.T) {
	for _, k := range []string{"PARACHUTE_HUB_URL", "PARACHUTE_HUB_ORIGIN", "RENDER_EXTERNAL_URL", "FLY_APP_NAME"} {
		t.Setenv(k, "")
	}
	paths := config.Paths{Root: t.TempDir()}
	startHub(t, paths, io.Discard)
	report := func() Report {
		return (&Doctor{Paths: paths, Probes: HostProbes(paths, nil)}).Run(context.Background())
	}
	rep := report()
	for _, c := range []string{"hub", "ports", "token", "origin", "exposure"} {
		if f := find(rep, c); len(f) != 1 || f[0].Severity != OK {
			t.Errorf("%s against a healthy hub: %+v", c, f)
		}
	}
	if !rep.OK {
		t.Errorf("a healthy hub is not OK:\n%s", dump(rep))
	}

	if err := os.WriteFile(paths.OperatorToken(), []byte("not-a-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f := find(report(), "token"); len(f) != 1 || f[0].Severity != Error || !strings.Contains(f[0].Seen, "refuses the operator token") {
		t.Errorf("a forged token: %+v", f)
	}
	// Group read alone (0640) is the system package's setup; group write
	// is not.
	if err := os.Chmod(paths.OperatorToken(), 0o660); err != nil {
		t.Fatal(err)
	}
	if f := find(report(), "token"); len(f) != 1 || f[0].Severity != Error || !strings.HasPrefix(f[0].Fix, "chmod 600 ") {
		t.Errorf("a group-writable token: %+v", f)
	}
}

// startHub runs an in-process hub over paths until the test ends, its
// output to out.
func startHub(t *testing.T, paths config.Paths, out io.Writer) {
	t.Helper()
	hubtest.Start(t, hubtest.Options{Paths: paths, Output: out})
}

// lineWaiter closes seen when a line containing want is written.
type lineWaiter struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
}

func (w *lineWaiter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}

// TestAgainstAHubRunningAConnector: a tunnel recorded with connector
// "hub" is judged by the running hub's children, found with the real
// probes: the in-process hub runs (fake) cloudflared for it, and doctor
// sees that process under the hub's pid.
func TestAgainstAHubRunningAConnector(t *testing.T) {
	for _, k := range []string{"PARACHUTE_HUB_URL", "PARACHUTE_HUB_ORIGIN", "RENDER_EXTERNAL_URL", "FLY_APP_NAME"} {
		t.Setenv(k, "")
	}
	if childArgvs == nil {
		t.Skip("no /proc: doctor cannot list the hub's children here")
	}
	exposetest.Install(t)
	paths := config.Paths{Root: t.TempDir()}
	cfg := filepath.Join(paths.Root, "cloudflared", "hub", "config.yml")
	st := &state.State{Providers: map[state.Provider]*state.Record{state.Cloudflare: {Version: 1, Layer: "public", Mode: "path",
		CanonicalFQDN: "hub.example.com", Port: 443, Tunnels: map[string]state.Tunnel{"hub": {UUID: "u-1", Name: "hub",
			Hostname: "hub.example.com", ConfigPath: cfg, Connector: state.ConnectorHub}}}}}
	if err := state.Save(paths.Root, st); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	startHub(t, paths, &lineWaiter{want: "INF Starting tunnel config=" + cfg, seen: seen})
	select {
	case <-seen: // the fake cloudflared runs, under its own argv
	case <-time.After(30 * time.Second):
		t.Fatal("the hub did not start the connector")
	}
	rep := (&Doctor{Paths: paths, Probes: HostProbes(paths, nil)}).Run(context.Background())
	f := find(rep, "exposure")
	if len(f) != 1 || f[0].Severity != OK || !strings.Contains(f[0].Seen, fmt.Sprintf("the hub (pid %d) runs the Cloudflare connector for hub.example.com", os.Getpid())) {
		t.Errorf("exposure with the hub running the connector: %+v", f)
	}
}

// TestMain lets this test binary play cloudflared for the hub it runs.
func TestMain(m *testing.M) {
	exposetest.RunIfFake()
	os.Exit(m.Run())
}
