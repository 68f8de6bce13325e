// Package testenv decides whether a test that needs something from the
// machine (root, the systemd box, a packaging tool) skips or fails: on a
// developer's machine it skips with the reason; in CI (CI=true) the
// environment is supposed to provide everything, so a missing piece fails
// the test instead of hiding it.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips t, or fails it in CI, because what it needs is missing.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI must run this test, but: "+format, args...)
	}
	t.Skipf(format, args...)
}

// NeedRoot calls Unavailable unless the test runs as root.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root: %s", why)
	}
}
