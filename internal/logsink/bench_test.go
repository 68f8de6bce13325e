package logsink

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkStreamThroughput pushes 100-byte lines through a Stream into the
// ring, a discarding hub output and a rotating file: the in-process part of
// the pipeline (the supervisor's BenchmarkLogThroughput adds a real pipe).
func BenchmarkStreamThroughput(b *testing.B) {
	s := New(Options{
		Short:      "bench",
		Output:     NewOutput(io.Discard),
		File:       NewRotatingFile(filepath.Join(b.TempDir(), "bench.log"), 64<<20, 2),
		QueueBytes: 64 << 20,
	})
	line := strings.Repeat("x", 99) + "\n"
	chunk := []byte(strings.Repeat(line, 640)) // 64000 bytes, like one pipe read
	st := s.NewStream()
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		st.Write(chunk)
	}
	b.StopTimer()
	s.Close(context.Background())
	b.ReportMetric(float64(s.Dropped())/float64(b.N), "dropped-lines/op")
}
