package cli

import (
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal. It asks the terminal driver
// (a termios ioctl) rather than testing for a character device: /dev/null
// is one too, and output redirected there is not interactive.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termSafeWriter makes module output safe to show on an operator's
// terminal. A module's log lines are untrusted bytes: escape sequences in
// them could retitle the window, rewrite what is on screen, hide earlier
// lines or (OSC 52) write the clipboard. It passes printable UTF-8, '\n'
// and '\t' through and writes every other control character (C0, DEL,
// C1) and every invalid byte as a visible \xNN, like journalctl does.
//
// A UTF-8 sequence split across two Writes is held until the next Write
// (at most 3 bytes), so escaping never depends on how the stream was
// chunked.
type termSafeWriter struct {
	w       io.Writer
	pending []byte
	out     []byte
}

func newTermSafeWriter(w io.Writer) *termSafeWriter { return &termSafeWriter{w: w} }

// Write escapes p and writes it. It reports len(p) on success: the caller's
// bytes were all consumed even when more bytes went out.
func (t *termSafeWriter) Write(p []byte) (int, error) {
	buf := p
	if len(t.pending) > 0 {
		buf = append(t.pending, p...)
		t.pending = nil
	}
	t.out = t.out[:0]
	for len(buf) > 0 {
		r, size := utf8.DecodeRune(buf)
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(buf) {
				// An incomplete sequence at the end: wait for the rest.
				t.pending = append([]byte(nil), buf...)
				break
			}
			t.out = fmt.Appendf(t.out, `\x%02x`, buf[0])
			buf = buf[1:]
			continue
		}
		switch {
		case r == '\n' || r == '\t':
			t.out = append(t.out, byte(r))
		case r < 0x20 || r == 0x7f:
			t.out = fmt.Appendf(t.out, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			t.out = fmt.Appendf(t.out, `\u%04x`, r) // C1 controls (CSI as U+009B)
		default:
			t.out = append(t.out, buf[:size]...)
		}
		buf = buf[size:]
	}
	if _, err := t.w.Write(t.out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a held incomplete sequence as escaped bytes (at the end of
// the stream it can never complete).
func (t *termSafeWriter) Flush() error {
	if len(t.pending) == 0 {
		return nil
	}
	t.out = t.out[:0]
	for _, b := range t.pending {
		t.out = fmt.Appendf(t.out, `\x%02x`, b)
	}
	t.pending = nil
	_, err := t.w.Write(t.out)
	return err
}
