package supervisor

import (
	"context"

	"github.com/openparachute/parachute/internal/logsink"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestChildOutputIsPrefixed(t *testing.T) {
	h := newHarness(t, Options{})
	spec := h.spec("vault", "exit", "CODE=0")
	spec.Policy.MaxCrashes = 1
	spec.Policy.BackoffMin = time.Hour
	h.sup.Start(context.Background(), spec)
	// Two runs: the first crash restarts at once, the second gives up.
	h.waitState("vault", "exited twice", func(s State) bool { return s.Status == StatusCrashed })
	// stdout, stderr and the trailing partial line, each prefixed and whole.
	for _, want := range []string{"[vault] bye\n", "[vault] err line\n", "[vault] tail\n"} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("hub output lacks %q:\n%s", want, h.out.String())
		}
	}
	lines, ok := h.sup.Logs("vault", 0)
	if !ok || len(lines) < 3 {
		t.Fatalf("Logs = %q, %v", lines, ok)
	}
	if got, _ := h.sup.Logs("vault", 1); len(got) != 1 || !strings.HasPrefix(got[0], "[supervisor] vault crashed 2 times") {
		t.Errorf("Logs(1) = %q; want the supervisor's giving-up note last", got)
	}
}

func TestTwoModulesNeverShareALine(t *testing.T) {
	h := newHarness(t, Options{})
	for _, short := range []string{"vault", "scribe"} {
		h.sup.Start(context.Background(), h.spec(short, "lines", "COUNT=5000", "SIZE=50"))
	}
	h.waitLog("vault", "done")
	h.waitLog("scribe", "done")
	waitFor(t, 20*time.Second, "both modules' output on the hub", func() bool {
		out := h.out.String()
		return strings.Contains(out, "[vault] done\n") && strings.Contains(out, "[scribe] done\n")
	})
	for _, l := range strings.SplitAfter(h.out.String(), "\n") {
		if l == "" {
			continue
		}
		if !(strings.HasPrefix(l, "[vault] ") || strings.HasPrefix(l, "[scribe] ")) || strings.Count(l, "] ") != 1 {
			t.Fatalf("mixed line on the hub output: %q", l)
		}
	}
}

func TestLogFilesRotate(t *testing.T) {
	logDir := t.TempDir()
	h := newHarness(t, Options{
		LogDir:      func(short string) string { return filepath.Join(logDir, short, "logs") },
		LogMaxBytes: 10 << 10,
		LogFiles:    3,
	})
	h.sup.Start(context.Background(), h.spec("vault", "lines", "COUNT=1000", "SIZE=100"))
	h.waitLog("vault", "done")
	if err := h.sup.Shutdown(context.Background()); err != nil { // flushes the files
		t.Fatal(err)
	}
	dir := filepath.Join(logDir, "vault", "logs")
	for _, name := range []string{"vault.log", "vault.log.1", "vault.log.2"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Size() > 10<<10 || fi.Size() == 0 {
			t.Errorf("%s has %d bytes; want 1..10240", name, fi.Size())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "vault.log.3")); err == nil {
		t.Errorf("a fourth file was kept")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "vault.log"))
	if !strings.Contains(string(b), "[vault] done\n") {
		t.Errorf("current log file lacks the newest line")
	}
}

func TestFollowBacklogAndLive(t *testing.T) {
	h := newHarness(t, Options{})
	st, _ := h.sup.Start(context.Background(), h.spec("vault", "sleep", "GREETING=hello"))
	h.waitLog("vault", "sleeping")
	ctx, cancel := context.WithCancel(context.Background())
	backlog, ch, ok := h.sup.Follow(ctx, "vault", -1)
	if !ok || strings.Join(backlog, "") != "[vault] hello\n[vault] sleeping\n" {
		t.Fatalf("backlog = %q, %v", backlog, ok)
	}
	h.sup.Stop(context.Background(), st.Short) // the child prints "got SIGTERM"
	if got := <-ch; got != "[vault] got SIGTERM\n" {
		t.Errorf("live line = %q", got)
	}
	cancel()
	for range ch { // closed once ctx is done
	}
}

// TestSlowReadersNeverBlockTheChild: a follower that never reads and a hub
// stdout that blocks must not stop a child writing 10 MB as fast as it can.
func TestSlowReadersNeverBlockTheChild(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	out := &blockingOutput{release: release}
	h := newHarness(t, Options{Output: out})

	h.sup.Start(context.Background(), h.spec("vault", "sleep")) // create the module…
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, ch, _ := h.sup.Follow(ctx, "vault", 0) // …and a follower that will not read yet
	h.sup.Restart(context.Background(), h.spec("vault", "lines", "COUNT=100000", "SIZE=100"))
	h.waitLog("vault", "[vault] done") // the child got all 10 MB out
	once.Do(func() { close(release) })

	for range logsink.DefaultFollowLines { // what fitted in the follower's buffer
		<-ch
	}
	h.sup.Stop(context.Background(), "vault") // new lines: the follower now has room
	if l := <-ch; !strings.Contains(l, "dropped (follower too slow)") {
		t.Errorf("first line after the gap = %q; want the drop marker", l)
	}
	if err := h.sup.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if !strings.Contains(out.b.String(), "dropped (hub output too slow)") {
		t.Errorf("the hub output was not told about dropped lines")
	}
}

type blockingOutput struct {
	release chan struct{}
	mu      sync.Mutex
	b       strings.Builder
}

func (b *blockingOutput) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
