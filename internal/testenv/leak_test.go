package testenv

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// recordingTB is a testing.TB whose Errorf is recorded instead of failing
// the test that uses it.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// parkedUntil blocks until release is closed: a goroutine of this module
// that outlives its test unless the test releases it.
func parkedUntil(release <-chan struct{}, done chan<- struct{}) {
	<-release
	close(done)
}

func TestCheckGoroutines(t *testing.T) {
	defer func(g time.Duration) { leakGrace = g }(leakGrace)
	leakGrace = 50 * time.Millisecond

	release, done := make(chan struct{}), make(chan struct{})
	go parkedUntil(release, done)

	t.Run("a live goroutine is a leak", func(t *testing.T) {
		rec := &recordingTB{TB: t}
		CheckGoroutines(rec)
		if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "testenv.parkedUntil") {
			t.Fatalf("errors = %q, want one naming parkedUntil", rec.errors)
		}
	})
	t.Run("an ignored goroutine is not", func(t *testing.T) {
		rec := &recordingTB{TB: t}
		CheckGoroutines(rec, "parkedUntil")
		if len(rec.errors) != 0 {
			t.Fatalf("errors = %q, want none", rec.errors)
		}
	})
	t.Run("a goroutine on its way out is waited for", func(t *testing.T) {
		leakGrace = 10 * time.Second
		rec := &recordingTB{TB: t}
		close(release)
		CheckGoroutines(rec)
		<-done
		if len(rec.errors) != 0 {
			t.Fatalf("errors = %q, want none", rec.errors)
		}
	})
}
