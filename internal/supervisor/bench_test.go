package supervisor

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkLogThroughput measures the whole log pipeline for one module
// writing as fast as it can: a real child printing 100-byte lines into its
// pipe, the pumps, the line splitter, the ring, a discarding hub output and
// a rotating file. Each op is one child run of 100 MB, from spawn until the
// supervisor has seen the exit and drained the pipes (spawn cost included).
func BenchmarkLogThroughput(b *testing.B) {
	const lines, size = 1_000_000, 100
	exe, _ := os.Executable()
	dir := b.TempDir()
	sup := New(Options{
		Output: io.Discard,
		LogDir: func(string) string { return filepath.Join(dir, "logs") },
	})
	b.Cleanup(func() { sup.Shutdown(context.Background()) })
	spec := Spec{
		Short: "bench",
		Argv:  []string{exe},
		Env: append(os.Environ(), childModeEnv+"=lines", "EXIT=1", "GORACE=atexit_sleep_ms=0",
			"COUNT="+strconv.Itoa(lines), "SIZE="+strconv.Itoa(size)),
		Policy: Policy{BackoffMin: time.Hour},
	}
	b.SetBytes(lines * size)
	b.ResetTimer()
	for range b.N {
		if _, err := sup.Start(context.Background(), spec); err != nil {
			b.Fatal(err)
		}
		// The exit is handled once the pipes are drained into the sinks;
		// the first crash respawns at once, and that second run is
		// stopped straight away (its first few lines count as noise).
		for {
			st, _ := sup.Get("bench")
			if st.Restarts > 0 || st.Status == StatusCrashed {
				break
			}
			time.Sleep(time.Millisecond) // polling interval
		}
		if _, _, err := sup.Stop(context.Background(), "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sk, _ := sup.sink("bench")
	b.ReportMetric(float64(sk.Dropped())/float64(b.N), "dropped-lines/op")
}
