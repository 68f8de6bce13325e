package logsink

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Stream splits one pipe's bytes into prefixed lines. Write never blocks on
// a destination, never fails and never panics, whatever the bytes.
//
// What comes out, precisely: split the bytes written (up to Close) at each
// '\n' into lines; a trailing partial line counts as a line at Close. Each
// line is then cut into pieces: while more than MaxLine bytes are left, a
// piece of MaxLine bytes is taken, shortened by up to 3 bytes so that it
// ends at a UTF-8 rune start (so valid UTF-8 stays valid in every piece;
// invalid bytes are cut at MaxLine). Each piece, the empty line's single
// empty piece included, is emitted as prefix + piece + "\n". Bytes are not
// sanitised: NUL, CR, ANSI escapes and invalid UTF-8 pass through as they
// are. The pieces depend only on the bytes, never on how they were chunked
// into Writes, so concatenating the emitted lines without their prefixes
// and newlines gives back exactly the input without its newlines.
type Stream struct {
	s       *Sink
	partial []byte // bytes after the last newline, waiting for their line end; at most MaxLine
	ends    []int  // scratch: line end offsets of the batch being built
}

// Write consumes p.
func (st *Stream) Write(p []byte) (int, error) {
	n := len(p)
	if len(st.partial)+len(p) <= MaxLine && bytes.IndexByte(p, '\n') < 0 {
		// No line is complete: hold the bytes without building a batch
		// (a child writing a byte at a time must not cost a MaxLine
		// buffer per byte).
		st.partial = append(st.partial, p...)
		return n, nil
	}
	var b strings.Builder
	b.Grow(len(st.partial) + len(p) + 8*len(st.s.prefix))
	st.ends = st.ends[:0]
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		if len(st.partial) > 0 {
			st.partial = append(st.partial, p[:i]...)
			st.emit(&b, st.partial)
			st.partial = st.partial[:0]
		} else {
			st.emit(&b, p[:i])
		}
		p = p[i+1:]
	}
	st.partial = append(st.partial, p...)
	// Bound the held partial line. Once it holds more than MaxLine bytes
	// the line is known to be long, and its first piece is the one emit
	// would cut whatever follows, so it can go out now. (A partial of
	// exactly MaxLine bytes must wait: its newline may be next.)
	if len(st.partial) > MaxLine {
		rest := st.emitPieces(&b, st.partial)
		st.partial = append(st.partial[:0], rest...)
	}
	if cap(st.partial) > 2*MaxLine && len(st.partial) < MaxLine/2 {
		st.partial = append([]byte(nil), st.partial...)
	}
	st.s.publish(b.String(), st.ends, true)
	return n, nil
}

// Close flushes a trailing partial line with an added newline.
func (st *Stream) Close() error {
	if len(st.partial) == 0 {
		return nil
	}
	var b strings.Builder
	st.ends = st.ends[:0]
	st.emit(&b, st.partial)
	st.partial = nil
	st.s.publish(b.String(), st.ends, true)
	return nil
}

// emit appends a complete line (without newline) to b as one or more
// prefixed lines.
func (st *Stream) emit(b *strings.Builder, line []byte) {
	st.emitLine(b, st.emitPieces(b, line))
}

// emitPieces appends the MaxLine-sized pieces of line to b while more than
// MaxLine bytes are left, and returns the rest (1 to MaxLine bytes, or the
// whole line if it is not longer than MaxLine).
func (st *Stream) emitPieces(b *strings.Builder, line []byte) []byte {
	for len(line) > MaxLine {
		cut := utf8Cut(line, MaxLine)
		st.emitLine(b, line[:cut])
		line = line[cut:]
	}
	return line
}

func (st *Stream) emitLine(b *strings.Builder, piece []byte) {
	b.WriteString(st.s.prefix)
	b.Write(piece)
	b.WriteByte('\n')
	st.ends = append(st.ends, b.Len())
}

// utf8Cut returns where to cut p so that p[:cut] is at most cut bytes and
// ends before a rune start: cut itself if p[cut] starts a rune (or cut is
// not inside p), else the nearest rune start up to 3 bytes before it, which
// keeps any valid rune whole; bytes with no rune start in reach are invalid
// UTF-8 and are cut where asked. The result is in [cut-3, cut] and, for
// cut > 3, never 0, so a caller cutting repeatedly always makes progress.
func utf8Cut(p []byte, cut int) int {
	if cut <= 0 || cut >= len(p) {
		return min(max(cut, 0), len(p))
	}
	// A rune is at most UTFMax bytes, so the start of the one holding
	// p[cut] is at most UTFMax-1 bytes back.
	for i := 0; i < utf8.UTFMax && cut-i > 0; i++ {
		if utf8.RuneStart(p[cut-i]) {
			return cut - i
		}
	}
	return cut
}
