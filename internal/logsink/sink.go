// Package logsink carries one supervised module's output from its pipes to
// everywhere it is read: the hub's stdout (shared by all modules), a
// size-rotated file, an in-memory ring of recent lines and live followers.
//
// Every line is prefixed "[<short>] " and ends in "\n". A Stream (one per
// pipe) splits bytes into lines, holds a partial line until its newline
// arrives, cuts lines longer than MaxLine and flushes a trailing partial
// line with an added "\n" when closed.
//
// The writer of a pipe is never blocked by a reader of its lines:
//   - the ring and followers are fed synchronously but never wait: the ring
//     is memory, and a follower that has FollowLines lines or FollowBytes
//     bytes unread loses lines (it later gets a "[supervisor] … dropped"
//     marker instead);
//   - the hub's stdout and the file each sit behind a bounded queue drained
//     by their own goroutine, which drops (and counts) batches when full.
package logsink

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
)

// MaxLine is the longest line, without prefix and newline, that is emitted
// as one line; longer lines are split (at a UTF-8 boundary) into several.
const MaxLine = 64 << 10

// Defaults for Options fields left zero.
const (
	DefaultRingBytes   = 64 << 10
	DefaultQueueBytes  = 4 << 20
	DefaultFollowLines = 4096
	DefaultFollowBytes = 1 << 20
)

// Output is a writer shared by many sinks, typically the hub's stdout. Each
// Write holds a lock, and sinks only write whole lines, so lines from two
// modules never interleave mid-line.
type Output struct {
	mu sync.Mutex
	w  io.Writer
}

// NewOutput wraps w for sharing between sinks.
func NewOutput(w io.Writer) *Output { return &Output{w: w} }

// Write writes p under the shared lock.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// Options configures a Sink.
type Options struct {
	Short       string                        // module short name; lines are prefixed "[Short] "
	Output      *Output                       // hub stdout; nil = none
	File        *RotatingFile                 // per-module log file; nil = none
	RingBytes   int                           // ring budget, counting prefixed lines; default 64 KiB
	QueueBytes  int                           // queue per asynchronous destination; default 4 MiB
	FollowLines int                           // channel buffer per follower; default 4096
	FollowBytes int                           // unread bytes held per follower; default 1 MiB
	Errorf      func(format string, a ...any) // reports destination errors (rate-limited); nil = ignore
}

// Sink fans one module's lines out to its destinations.
type Sink struct {
	prefix      string
	short       string
	followLines int
	followBytes int
	out, file   *asyncWriter // nil when absent
	fileCloser  *RotatingFile

	mu        sync.Mutex // guards the fields below; held only briefly and never across I/O
	ring      ring
	followers map[*follower]struct{}
	closed    bool
	done      chan struct{} // closed by Close; follower watchers exit on it
}

// follower is one Follow call's channel and what the Sink knows of it. Its
// fields are guarded by Sink.mu (the reader only receives from ch).
//
// Why bytes as well as lines: lines run up to MaxLine bytes, so FollowLines
// of them alone would let one reader that stops reading (a `logs -f` whose
// terminal is paused) hold hundreds of MiB of a flooding module's output.
type follower struct {
	ch       chan string
	dropped  int
	maxBytes int
	bytes    int   // bytes of the lines in ch, or of some the reader has just taken
	sizes    []int // sizes[head:]: sizes of the lines sent and not known to be taken, oldest first
	head     int
}

// New starts a Sink. Close releases its goroutines and file.
func New(opts Options) *Sink {
	if opts.RingBytes <= 0 {
		opts.RingBytes = DefaultRingBytes
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	if opts.FollowLines <= 0 {
		opts.FollowLines = DefaultFollowLines
	}
	if opts.FollowBytes <= 0 {
		opts.FollowBytes = DefaultFollowBytes
	}
	s := &Sink{
		prefix:      "[" + opts.Short + "] ",
		short:       opts.Short,
		followLines: opts.FollowLines,
		followBytes: opts.FollowBytes,
		ring:        ring{max: opts.RingBytes},
		followers:   map[*follower]struct{}{},
		done:        make(chan struct{}),
	}
	if opts.Output != nil {
		s.out = newAsyncWriter(opts.Output, opts.QueueBytes,
			func(n int) string { return dropMarker(s.short, "hub output", n) }, opts.Errorf)
	}
	if opts.File != nil {
		s.fileCloser = opts.File
		s.file = newAsyncWriter(opts.File, opts.QueueBytes,
			func(n int) string { return dropMarker(s.short, "log file", n) }, opts.Errorf)
	}
	return s
}

// NewStream returns a line splitter for one pipe of the module. A Stream is
// used by one goroutine; two Streams (stdout, stderr) may write concurrently.
func (s *Sink) NewStream() *Stream { return &Stream{s: s} }

// Note records a line of the supervisor's own ("[supervisor] <line>") in the
// ring, the file and followers, but not on the hub output, which gets the
// supervisor's lines from its logger instead.
func (s *Sink) Note(line string) {
	l := "[supervisor] " + strings.TrimRight(line, "\n") + "\n"
	s.publish(l, []int{len(l)}, false)
}

// Lines returns the newest n lines of the ring (n <= 0: all), oldest first,
// each with its prefix and newline.
func (s *Sink) Lines(n int) []string {
	if n <= 0 {
		n = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ring.last(n)
}

// ResetRing empties the ring (an explicit start begins a fresh history).
func (s *Sink) ResetRing() {
	s.mu.Lock()
	s.ring.reset()
	s.mu.Unlock()
}

// Follow returns the newest backlog lines of the ring (backlog < 0: all) and
// a channel of every line published afterwards, with no gap or overlap
// between the two. The channel is closed when ctx is done or the Sink is
// closed. A follower that does not keep up (FollowLines lines or
// FollowBytes bytes unread) loses lines and then receives a
// "[supervisor] … dropped" marker; it never slows the module.
func (s *Sink) Follow(ctx context.Context, backlog int) ([]string, <-chan string) {
	f := &follower{ch: make(chan string, s.followLines), maxBytes: s.followBytes}
	s.mu.Lock()
	var lines []string
	if backlog != 0 {
		lines = s.ring.last(backlog)
	}
	if s.closed {
		s.mu.Unlock()
		close(f.ch)
		return lines, f.ch
	}
	s.followers[f] = struct{}{}
	s.mu.Unlock()

	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		s.mu.Lock()
		if _, ok := s.followers[f]; ok {
			delete(s.followers, f)
			close(f.ch)
		}
		s.mu.Unlock()
	}()
	return lines, f.ch
}

// publish hands complete lines to every destination. batch holds the lines
// back to back; ends[i] is the end offset of line i. toOutput is false for
// the supervisor's own notes.
func (s *Sink) publish(batch string, ends []int, toOutput bool) {
	if len(ends) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	start := 0
	for _, end := range ends {
		line := batch[start:end]
		start = end
		s.ring.push(line)
		// A substring keeps its whole batch alive: a short line waiting
		// in a follower's channel could pin a batch of thousands of
		// lines, and FollowBytes would bound nothing. Such lines are
		// copied, once a follower takes them.
		pins := len(line) < len(batch)/2
		for f := range s.followers {
			f.send(s.short, line, pins)
		}
	}
	// Queued under mu so that two Streams' batches reach the file and the
	// hub output in the same order as the ring.
	if s.out != nil && toOutput {
		s.out.enqueue(batch, len(ends))
	}
	if s.file != nil {
		s.file.enqueue(batch, len(ends))
	}
}

// send offers line (a copy of it if clone) to the follower, after the drop
// marker it is owed, if any.
func (f *follower) send(short, line string, clone bool) {
	f.settle()
	if f.dropped > 0 {
		if !f.offer(dropMarker(short, "follower", f.dropped), false) {
			f.dropped++
			return
		}
		f.dropped = 0
	}
	if !f.offer(line, clone) {
		f.dropped++
	}
}

// offer puts line (a copy if clone) in the channel if both budgets allow
// it; a line larger than the byte budget goes through alone, as in the ring.
func (f *follower) offer(line string, clone bool) bool {
	if (f.bytes > 0 && f.bytes+len(line) > f.maxBytes) || len(f.ch) == cap(f.ch) {
		return false
	}
	if clone {
		line = strings.Clone(line)
	}
	select {
	case f.ch <- line:
		f.sizes = append(f.sizes, len(line))
		f.bytes += len(line)
		return true
	default:
		return false
	}
}

// settle forgets the lines the reader has taken. The channel is FIFO, so
// they are the oldest sent, and len(ch) counts the ones still waiting; a
// reader taking one concurrently only leaves the count high for now.
func (f *follower) settle() {
	for len(f.sizes)-f.head > len(f.ch) {
		f.bytes -= f.sizes[f.head]
		f.head++
	}
	if f.head > 64 && f.head*2 > len(f.sizes) {
		n := copy(f.sizes, f.sizes[f.head:])
		f.sizes, f.head = f.sizes[:n], 0
	}
}

// Dropped returns how many lines the hub output and the file have lost to
// full queues so far (followers' losses are theirs and not counted).
func (s *Sink) Dropped() int64 {
	var n int64
	if s.out != nil {
		n += s.out.totalDropped.Load()
	}
	if s.file != nil {
		n += s.file.totalDropped.Load()
	}
	return n
}

// Close stops accepting lines, closes followers' channels, flushes the
// queues (waiting until ctx is done at most) and closes the file.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for f := range s.followers {
		delete(s.followers, f)
		close(f.ch)
	}
	close(s.done)
	s.mu.Unlock()

	var errs []error
	if s.out != nil {
		errs = append(errs, s.out.close(ctx))
	}
	if s.file != nil {
		if err := s.file.close(ctx); err != nil {
			errs = append(errs, err)
		} else {
			// The writer goroutine is gone, so the file has no other user.
			errs = append(errs, s.fileCloser.Close())
		}
	}
	return errors.Join(errs...)
}
