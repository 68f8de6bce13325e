package logsink

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// asyncWriter decouples a slow destination (the hub's stdout, a log file on a
// busy disk) from the pump reading a child's pipe. enqueue never blocks: it
// appends to a queue bounded by max bytes, and when the queue is full the
// batch is dropped and its lines counted. One goroutine drains the queue into
// the destination and, after the batches that were queued before a drop,
// writes a marker saying how many lines went missing.
//
// Why drop instead of block: a child whose stdout pipe fills stops at its
// next write, and a module wedged on logging looks like a hung module to
// every probe. Losing log lines (and saying so) is the lesser harm.
type asyncWriter struct {
	dst    io.Writer
	max    int
	marker func(dropped int) string
	errorf func(format string, args ...any)

	totalDropped atomic.Int64 // lines dropped over the writer's life

	mu       sync.Mutex // guards the fields below
	pending  []string
	size     int
	dropped  int
	closed   bool
	failing  bool // the last write failed; report again only after a success
	wake     chan struct{}
	finished chan struct{}
}

func newAsyncWriter(dst io.Writer, max int, marker func(int) string, errorf func(string, ...any)) *asyncWriter {
	a := &asyncWriter{
		dst:      dst,
		max:      max,
		marker:   marker,
		errorf:   errorf,
		wake:     make(chan struct{}, 1),
		finished: make(chan struct{}),
	}
	go a.loop()
	return a
}

// enqueue queues batch (lines whole lines) for the destination, or drops it.
func (a *asyncWriter) enqueue(batch string, lines int) {
	a.mu.Lock()
	switch {
	case a.closed:
	case a.size > 0 && a.size+len(batch) > a.max:
		a.dropped += lines
		a.totalDropped.Add(int64(lines))
	default:
		a.pending = append(a.pending, batch)
		a.size += len(batch)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *asyncWriter) loop() {
	defer close(a.finished)
	var buf []byte
	for {
		<-a.wake
		a.mu.Lock()
		batches, dropped, closed := a.pending, a.dropped, a.closed
		a.pending, a.size, a.dropped = nil, 0, 0
		a.mu.Unlock()

		// Small batches (a chatty child writing line by line) are
		// coalesced so the destination sees few writes; big ones are
		// written as they are. Either way every write holds whole lines,
		// which is what keeps modules from interleaving on a shared output.
		buf = buf[:0]
		for _, b := range batches {
			if len(b) >= coalesceMax {
				if len(buf) > 0 {
					a.write(buf)
					buf = buf[:0]
				}
				a.write(stringBytes(b))
				continue
			}
			if len(buf)+len(b) > coalesceMax && len(buf) > 0 {
				a.write(buf)
				buf = buf[:0]
			}
			buf = append(buf, b...)
		}
		if dropped > 0 {
			buf = append(buf, a.marker(dropped)...)
		}
		if len(buf) > 0 {
			a.write(buf)
		}
		if closed {
			return
		}
	}
}

// coalesceMax bounds the buffer that joins small batches into one write.
const coalesceMax = 64 << 10

// stringBytes views s as a byte slice without copying. Safe here because
// io.Writer implementations must neither modify nor retain p.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (a *asyncWriter) write(p []byte) {
	_, err := a.dst.Write(p)
	a.mu.Lock()
	report := err != nil && !a.failing
	a.failing = err != nil
	a.mu.Unlock()
	if report && a.errorf != nil {
		a.errorf("writing log output: %v (further errors suppressed until a write succeeds)", err)
	}
}

// close flushes what is queued and stops the goroutine. It waits until ctx
// is done at most; a destination blocked for good keeps its goroutine.
func (a *asyncWriter) close(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	select {
	case <-a.finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flushing log output: %w", ctx.Err())
	}
}

// dropMarker builds the line written in place of lines a sink had to drop.
func dropMarker(short, who string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[supervisor] %s: %d log line(s) dropped (%s too slow)\n", short, n, who)
	return b.String()
}
