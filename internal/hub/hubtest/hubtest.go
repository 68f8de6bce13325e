// Package hubtest runs the real hub (hub.Run, i.e. `parachute serve`) in
// the test's own process, for the tests of packages above hub (cli,
// doctor). It lives apart from testenv because testenv cannot import hub:
// hub's own tests import testenv, and that would be a cycle.
package hubtest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hub"
	"github.com/openparachute/parachute/internal/testenv"
)

// Options says how to run the hub. Zero values are fine except Paths.
type Options struct {
	// Paths is the hub's config root.
	Paths config.Paths
	// Port is the port to listen on; 0 picks a free one.
	Port int
	// Output receives the module lines; nil discards them.
	Output io.Writer
	// Logger is the hub's logger; nil is hub.Run's default.
	Logger *slog.Logger
}

// Hub is a hub running until its test ends.
type Hub struct {
	// URL is the hub's base, "http://127.0.0.1:<port>", no trailing slash.
	URL string
	// Port is the port it listens on.
	Port int
}

// Start runs hub.Run with opts on a free port and returns once the hub
// accepts connections (its Listening callback has fired). When the test
// ends the hub is stopped and waited for, and a Run that did not return
// nil (an unclean stop) fails the test. If Run returns before it listens
// the test fails at once with that error.
func Start(t testing.TB, opts Options) *Hub {
	t.Helper()
	port := opts.Port
	if port == 0 {
		port = testenv.FreePort(t)
	}
	out := opts.Output
	if out == nil {
		out = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	up, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- hub.Run(ctx, hub.RunOptions{Paths: opts.Paths, Port: port, Version: "test",
			Logger: opts.Logger, Output: out, Listening: func(net.Addr) { close(up) }})
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
		// Put it back: the cleanup above waits on done too.
		done <- err
		t.Fatalf("hub.Run ended before it listened: %v", err)
	}
	return &Hub{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port}
}
