package testenv

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// leakGrace is how long CheckGoroutines waits for goroutines that are on
// their way out (a pump draining a closed pipe, a handler writing its last
// bytes) before it calls them leaked. A variable only so this package's
// own test need not wait for it.
var leakGrace = 10 * time.Second

// CheckGoroutines fails t if a goroutine running this module's code (a
// stack naming "parachute/internal/") is still alive after a grace period.
// The test runner's own goroutines are never counted, nor any goroutine
// whose stack contains one of ignore: a function that lives for the whole
// process by design, such as the supervisor's "spawnLoop" thread.
//
// It looks at every goroutine of the process, so it belongs in tests that
// do not run in parallel with others of their package.
func CheckGoroutines(t testing.TB, ignore ...string) {
	t.Helper()
	deadline := time.Now().Add(leakGrace)
	for {
		leaked := liveGoroutines(ignore)
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutine(s) leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// NoLeaks registers CheckGoroutines(t, ignore...) as a cleanup of t.
// Cleanups run last-registered first, so call NoLeaks before building the
// parts the test shuts down in its own cleanups: the check then runs after
// them.
func NoLeaks(t testing.TB, ignore ...string) {
	t.Helper()
	t.Cleanup(func() { CheckGoroutines(t, ignore...) })
}

// liveGoroutines returns the stacks of this module's goroutines that are
// neither the test runner's nor ignored.
func liveGoroutines(ignore []string) []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "parachute/internal/") ||
			strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*M)") {
			continue
		}
		if !containsAny(g, ignore) {
			out = append(out, g)
		}
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
