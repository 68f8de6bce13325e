package logsink

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/openparachute/parachute/internal/testenv"

	"github.com/google/go-cmp/cmp"
)

func closeSink(t *testing.T, s *Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestStreamSplitsLines(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	// "é" is two bytes; placed so that MaxLine falls inside it.
	utf := strings.Repeat("a", MaxLine-1) + "é" + "b"
	// "𝄞" is four bytes, starting 3 bytes before MaxLine.
	utf4 := strings.Repeat("a", MaxLine-3) + "𝄞" + "b"
	exact := strings.Repeat("e", MaxLine)
	tests := []struct {
		name   string
		chunks []string
		want   []string
	}{
		{"one line", []string{"ready\n"}, []string{"[vault] ready\n"}},
		{"line in two chunks", []string{"listening", " on 3200\n"}, []string{"[vault] listening on 3200\n"}},
		{"several lines in one chunk", []string{"a\nb\nc\n"}, []string{"[vault] a\n", "[vault] b\n", "[vault] c\n"}},
		{"empty line", []string{"\n"}, []string{"[vault] \n"}},
		{"partial flushed at close", []string{"no newline"}, []string{"[vault] no newline\n"}},
		{"partial then lines", []string{"x", "y\nz"}, []string{"[vault] xy\n", "[vault] z\n"}},
		{"long line split", []string{long + "\n"}, []string{"[vault] " + long[:MaxLine] + "\n", "[vault] " + long[MaxLine:] + "\n"}},
		{"long partial split before its newline", []string{long[:MaxLine/2], long[MaxLine/2:]}, []string{"[vault] " + long[:MaxLine] + "\n", "[vault] " + long[MaxLine:] + "\n"}},
		{"split keeps runes whole", []string{utf + "\n"}, []string{"[vault] " + utf[:MaxLine-1] + "\n", "[vault] " + utf[MaxLine-1:] + "\n"}},
		// Issue 8: a partial line of k×MaxLine bytes panicked the hub.
		{"partial of exactly MaxLine", []string{exact}, []string{"[vault] " + exact + "\n"}},
		{"partial of 2×MaxLine", []string{exact + exact}, []string{"[vault] " + exact + "\n", "[vault] " + exact + "\n"}},
		{"MaxLine line, newline in the next write", []string{exact, "\nz\n"}, []string{"[vault] " + exact + "\n", "[vault] z\n"}},
		{"4-byte rune kept whole", []string{utf4 + "\n"}, []string{"[vault] " + utf4[:MaxLine-3] + "\n", "[vault] " + utf4[MaxLine-3:] + "\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := &testenv.SyncBuffer{}
			s := New(Options{Short: "vault", Output: NewOutput(out), RingBytes: 1 << 20})
			st := s.NewStream()
			for _, c := range tc.chunks {
				st.Write([]byte(c))
			}
			st.Close()
			if diff := cmp.Diff(tc.want, s.Lines(0)); diff != "" {
				t.Errorf("ring lines (-want +got):\n%s", diff)
			}
			closeSink(t, s)
			if got, want := out.String(), strings.Join(tc.want, ""); got != want {
				t.Errorf("output = %q, want %q", trunc(got), trunc(want))
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:40] + "…" + s[len(s)-40:]
	}
	return s
}

func TestRingCap(t *testing.T) {
	tests := []struct {
		name  string
		cap   int
		lines []string
		want  []string
	}{
		// runtime.md §7.4 item 55: a 40-byte cap keeps the newest lines.
		{"drops oldest whole lines", 40, []string{"[m] line-1\n", "[m] line-2\n", "[m] line-3\n", "[m] line-4\n"},
			[]string{"[m] line-2\n", "[m] line-3\n", "[m] line-4\n"}},
		// Item 56: one line bigger than the cap is kept alone.
		{"oversize line kept alone", 10, []string{"[m] a\n", "[m] this is long\n"}, []string{"[m] this is long\n"}},
		{"small line after oversize evicts it", 10, []string{"[m] this is long\n", "[m] b\n"}, []string{"[m] b\n"}},
		{"exact fit", 13, []string{"[m] ab\n", "[m] c\n"}, []string{"[m] ab\n", "[m] c\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ring{max: tc.cap}
			for _, l := range tc.lines {
				r.push(l)
			}
			got := r.last(-1)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if total := len(strings.Join(got, "")); len(got) > 1 && total > tc.cap {
				t.Errorf("ring holds %d bytes, cap %d", total, tc.cap)
			}
		})
	}
}

func TestRingCompactsAndLast(t *testing.T) {
	r := ring{max: 100}
	for i := range 10000 {
		r.push(fmt.Sprintf("%04d\n", i))
	}
	if len(r.lines) > 1000 {
		t.Errorf("ring slice grew to %d entries for a 20-line window", len(r.lines))
	}
	if diff := cmp.Diff([]string{"9998\n", "9999\n"}, r.last(2)); diff != "" {
		t.Errorf("last(2) (-want +got):\n%s", diff)
	}
	if got := len(r.last(-1)); got != 20 {
		t.Errorf("last(-1) has %d lines, want 20", got)
	}
	r.reset()
	if got := r.last(-1); len(got) != 0 {
		t.Errorf("after reset: %q", got)
	}
}

func TestFollowBacklogThenLive(t *testing.T) {
	s := New(Options{Short: "m"})
	defer closeSink(t, s)
	st := s.NewStream()
	st.Write([]byte("one\ntwo\nthree\n"))

	ctx, cancel := context.WithCancel(context.Background())
	backlog, ch := s.Follow(ctx, 2)
	if diff := cmp.Diff([]string{"[m] two\n", "[m] three\n"}, backlog); diff != "" {
		t.Errorf("backlog (-want +got):\n%s", diff)
	}
	st.Write([]byte("four\nfive\n"))
	s.Note("m exited (code=1)")
	var live []string
	for range 3 {
		live = append(live, <-ch)
	}
	want := []string{"[m] four\n", "[m] five\n", "[supervisor] m exited (code=1)\n"}
	if diff := cmp.Diff(want, live); diff != "" {
		t.Errorf("live lines (-want +got):\n%s", diff)
	}
	cancel()
	for range ch { // closed once ctx is done
	}
}

func TestFollowBacklogVariants(t *testing.T) {
	s := New(Options{Short: "m"})
	defer closeSink(t, s)
	s.NewStream().Write([]byte("a\nb\nc\n"))
	for _, tc := range []struct {
		name    string
		backlog int
		want    int
	}{{"none", 0, 0}, {"all", -1, 3}, {"some", 2, 2}, {"more than held", 10, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			lines, ch := s.Follow(ctx, tc.backlog)
			cancel()
			for range ch {
			}
			if len(lines) != tc.want {
				t.Errorf("backlog %d gave %d lines, want %d", tc.backlog, len(lines), tc.want)
			}
		})
	}
}

func TestSlowFollowerDropsAndIsTold(t *testing.T) {
	s := New(Options{Short: "m", FollowLines: 4})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, ch := s.Follow(ctx, 0)
	st := s.NewStream()
	for i := range 100 { // returns at once although nobody reads ch
		fmt.Fprintf(st, "line %d\n", i)
	}
	got := []string{<-ch, <-ch, <-ch, <-ch}
	st.Write([]byte("after\n"))
	got = append(got, <-ch, <-ch)
	want := []string{"[m] line 0\n", "[m] line 1\n", "[m] line 2\n", "[m] line 3\n",
		"[supervisor] m: 96 log line(s) dropped (follower too slow)\n", "[m] after\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("follower lines (-want +got):\n%s", diff)
	}
	closeSink(t, s)
	if _, ok := <-ch; ok {
		t.Errorf("follower channel still open after Close")
	}
}

// TestSlowFollowerBoundedByBytes: long lines fill a follower's byte budget
// long before its line budget, and what it cannot hold is dropped and
// reported, so a follower that stops reading holds FollowBytes at most.
func TestSlowFollowerBoundedByBytes(t *testing.T) {
	s := New(Options{Short: "m", FollowBytes: 100})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, ch := s.Follow(ctx, 0)
	st := s.NewStream()
	line := strings.Repeat("b", 25) + "\n" // 30 bytes with the prefix
	for range 10 {
		st.Write([]byte(line))
	}
	if len(ch) != 3 {
		t.Fatalf("follower holds %d lines of 30 bytes with a 100-byte budget, want 3", len(ch))
	}
	got := []string{<-ch, <-ch, <-ch}
	st.Write([]byte("after\n"))
	got = append(got, <-ch, <-ch)
	st.Write([]byte(strings.Repeat("c", 200) + "\n")) // larger than the budget: goes alone
	got = append(got, <-ch)
	want := []string{"[m] " + line, "[m] " + line, "[m] " + line,
		"[supervisor] m: 7 log line(s) dropped (follower too slow)\n", "[m] after\n",
		"[m] " + strings.Repeat("c", 200) + "\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("follower lines (-want +got):\n%s", diff)
	}
	closeSink(t, s)
}

// TestFollowedLineDoesNotPinItsBatch: a short line handed to a follower is
// a copy, not a substring of the batch it came in (which would keep the
// whole batch alive for as long as the line waits in the channel).
func TestFollowedLineDoesNotPinItsBatch(t *testing.T) {
	s := New(Options{Short: "m"})
	defer closeSink(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, ch := s.Follow(ctx, 0)
	s.NewStream().Write([]byte("a\n" + strings.Repeat("b\n", 100)))
	inRing := s.Lines(0)[0]
	followed := <-ch
	if followed != inRing {
		t.Fatalf("followed %q, ring has %q", followed, inRing)
	}
	if unsafe.StringData(followed) == unsafe.StringData(inRing) {
		t.Errorf("the follower's line shares the batch's memory")
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	buf     testenv.SyncBuffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.buf.Write(p)
}

func TestBlockedOutputNeverBlocksWriter(t *testing.T) {
	bw := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	s := New(Options{Short: "m", Output: NewOutput(bw), QueueBytes: 1024})
	st := s.NewStream()
	st.Write([]byte("first\n"))
	<-bw.entered // the writer goroutine is now stuck in Write
	line := strings.Repeat("y", 100) + "\n"
	for range 1000 { // 100 KB against a 1 KiB queue: must not block
		st.Write([]byte(line))
	}
	st.Write([]byte("last\n"))
	if l := s.Lines(1); len(l) != 1 || l[0] != "[m] last\n" {
		t.Fatalf("ring did not get every line: newest = %q", l)
	}
	close(bw.release)
	closeSink(t, s)
	out := bw.buf.String()
	if !strings.HasPrefix(out, "[m] first\n") || !strings.Contains(out, "log line(s) dropped (hub output too slow)") {
		t.Errorf("output lacks the first line or the drop marker:\n%s", trunc(out))
	}
	for _, l := range strings.SplitAfter(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "[m] ") && !strings.HasPrefix(l, "[supervisor] ") {
			t.Errorf("torn line in output: %q", trunc(l))
		}
	}
}

func TestSharedOutputNeverInterleaves(t *testing.T) {
	out := &testenv.SyncBuffer{}
	shared := NewOutput(out)
	var wg sync.WaitGroup
	var sinks []*Sink
	for _, short := range []string{"vault", "scribe"} {
		s := New(Options{Short: short, Output: shared, QueueBytes: 64 << 20})
		sinks = append(sinks, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s.NewStream()
			for i := range 2000 {
				// Odd chunking: each line arrives in two writes.
				fmt.Fprintf(st, "%s line %d ", short, i)
				st.Write([]byte("end\n"))
			}
		}()
	}
	wg.Wait()
	for _, s := range sinks {
		closeSink(t, s)
	}
	counts := map[string]int{}
	for _, l := range strings.SplitAfter(out.String(), "\n") {
		if l == "" {
			continue
		}
		var short, word string
		var n int
		if _, err := fmt.Sscanf(l, "[%s %s line %d end\n", &short, &word, &n); err != nil || short != word+"]" {
			t.Fatalf("interleaved or malformed line %q", l)
		}
		counts[word]++
	}
	if diff := cmp.Diff(map[string]int{"vault": 2000, "scribe": 2000}, counts); diff != "" {
		t.Errorf("line counts (-want +got):\n%s", diff)
	}
}

func TestSinkFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "m.log")
	s := New(Options{Short: "m", File: NewRotatingFile(path, 64, 3)})
	st := s.NewStream()
	for i := range 20 {
		fmt.Fprintf(st, "line %02d\n", i) // 12 bytes each with prefix: 5 per file
	}
	closeSink(t, s)
	var all []string
	for _, name := range []string{"m.log.2", "m.log.1", "m.log"} {
		b, err := os.ReadFile(filepath.Join(dir, "logs", name))
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		if len(b) > 64 {
			t.Errorf("%s has %d bytes, limit 64", name, len(b))
		}
		all = append(all, string(b))
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Errorf("kept a fourth file with LogFiles=3")
	}
	got := strings.Join(all, "")
	if !strings.HasSuffix(got, "[m] line 19\n") || strings.Count(got, "\n") != 15 {
		t.Errorf("rotated files hold %q; want the newest 15 whole lines", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
}

func TestDroppedCounts(t *testing.T) {
	bw := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	s := New(Options{Short: "m", Output: NewOutput(bw), QueueBytes: 100})
	st := s.NewStream()
	st.Write([]byte("first\n"))
	<-bw.entered
	st.Write([]byte(strings.Repeat("x", 90) + "\n")) // queued
	st.Write([]byte("a\nb\nc\n"))                    // queue full: 3 lines dropped
	if got := s.Dropped(); got != 3 {
		t.Errorf("Dropped = %d, want 3", got)
	}
	close(bw.release)
	closeSink(t, s)
}
