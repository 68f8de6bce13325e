package hubtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/config"
)

// TestStartServesAndStops: the hub Start returns answers /health, and the
// cleanup stops it cleanly.
func TestStartServesAndStops(t *testing.T) {
	var h *Hub
	t.Run("run", func(t *testing.T) {
		h = Start(t, Options{Paths: config.Paths{Root: t.TempDir()}})
		resp, err := http.Get(h.URL + "/health")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/health = %d", resp.StatusCode)
		}
	})
	// The subtest's cleanup has stopped the hub: its port is free again.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", h.Port))
	if err != nil {
		t.Fatalf("the hub still holds its port after the test ended: %v", err)
	}
	ln.Close()
}

// recorder is a testing.TB whose Fatal ends only the goroutine it runs
// in and whose cleanups run when asked, so a test can watch Start fail.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Errorf(format string, args ...any) {}
func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// TestStartFailsWithoutHanging: when Run fails before it listens (its
// port is taken) Start fails the test with Run's error, and its cleanup
// still returns: it must not wait for an error Start already consumed.
func TestStartFailsWithoutHanging(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := &recorder{TB: t}
	started := make(chan struct{})
	go func() {
		defer close(started)
		Start(r, Options{Paths: config.Paths{Root: t.TempDir()}, Port: ln.Addr().(*net.TCPAddr).Port})
	}()
	<-started
	if !strings.Contains(r.fatal, "ended before it listened") {
		t.Fatalf("Start on a taken port: fatal = %q", r.fatal)
	}
	cleaned := make(chan struct{})
	go func() {
		defer close(cleaned)
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
	}()
	// A deadline, not a synchronisation: a correct cleanup returns at once.
	select {
	case <-cleaned:
	case <-time.After(10 * time.Second):
		t.Fatal("Start's cleanup hangs after Run failed before listening")
	}
}
