package doctor

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hub"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	up, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- hub.Run(ctx, hub.RunOptions{Paths: paths, Port: port, Version: "test", Output: io.Discard,
			Listening: func(net.Addr) { close(up) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub.Run: %v", err)
		}
	})
	select {
	case <-up:
	case err := <-done:
		t.Fatalf("hub.Run ended early: %v", err)
	}
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
	if err := os.Chmod(paths.OperatorToken(), 0o640); err != nil {
		t.Fatal(err)
	}
	if f := find(report(), "token"); len(f) != 1 || f[0].Severity != Error || !strings.HasPrefix(f[0].Fix, "chmod 600 ") {
		t.Errorf("a group-readable token: %+v", f)
	}
}
