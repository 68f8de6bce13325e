package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// streamCmd is a module command whose output is the operator's progress
// (an init): every line goes to OnLine as the command prints it.
type streamCmd struct {
	Cmd
	// Shown is the command as messages name it ("parachute-vault init").
	Shown string
	// Timeout bounds the command; at the deadline its process group is
	// killed.
	Timeout time.Duration
	// OnLine receives each line of stderr, and of stdout unless Stdout.
	OnLine func(string)
	// Stdout, when set, captures stdout (up to maxCaptured bytes) instead
	// of streaming it: a command whose stdout is an answer (JSON).
	Stdout bool
}

// maxLine caps one streamed line and maxCaptured a captured stdout, so a
// module printing without newlines cannot grow the hub's memory.
const (
	maxLine     = 4 << 10
	maxCaptured = 1 << 20
)

// runStreamed runs c to completion. A non-zero exit is a *CmdError
// ("<cmd> exited <n>" and the last lines); a timeout kills the command's
// process group. It returns the captured stdout when c.Stdout.
func runStreamed(ctx context.Context, c streamCmd) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	inOwnGroup(cmd)
	// Why a bound on the wait: a grandchild that keeps the output pipe open
	// after the command exits must not hold the install forever.
	cmd.WaitDelay = 5 * time.Second
	lw := &lineWriter{onLine: c.OnLine}
	var out capped
	cmd.Stderr = lw
	if c.Stdout {
		cmd.Stdout = &out
	} else {
		cmd.Stdout = lw
	}
	err := cmd.Run()
	lw.flush()
	shown := Cmd{Name: c.Shown}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
		return nil, fmt.Errorf("%s %w (%s); it was stopped", c.Shown, errInitTimeout, c.Timeout)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return nil, &CmdError{Cmd: shown, Code: ee.ExitCode(), Output: lw.tail()}
	case err != nil:
		return nil, fmt.Errorf("running %s: %w", c.Shown, err)
	}
	return out.buf.Bytes(), nil
}

// lineWriter splits what a command writes into lines for onLine and keeps
// the last few for the error message. exec copies stdout and stderr from
// two goroutines, so it locks.
type lineWriter struct {
	mu     sync.Mutex
	onLine func(string)
	part   []byte
	last   []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.part = append(w.part, p...)
			if len(w.part) > maxLine {
				w.emit(w.part[:maxLine])
				w.part = w.part[:0]
			}
			break
		}
		w.part = append(w.part, p[:i]...)
		w.emit(w.part)
		w.part = w.part[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) emit(b []byte) {
	l := string(bytes.TrimRight(b, "\r"))
	if len(l) > maxLine {
		l = l[:maxLine]
	}
	w.last = append(w.last, l)
	if len(w.last) > 15 {
		w.last = w.last[1:]
	}
	if w.onLine != nil {
		w.onLine(l)
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.part) > 0 {
		w.emit(w.part)
		w.part = w.part[:0]
	}
}

func (w *lineWriter) tail() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b bytes.Buffer
	for _, l := range w.last {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// capped is a buffer that keeps the first maxCaptured bytes.
type capped struct{ buf bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxCaptured - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
