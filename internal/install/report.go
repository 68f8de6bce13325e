package install

import (
	"fmt"
	"sync"
)

// Reporter receives the installer's progress. The CLI renders it (a spinner
// for long steps on a terminal, plain lines otherwise); the hub appends it
// to the operation's log. Implementations must be safe for use by one
// installer at a time; the installer never calls them concurrently.
type Reporter interface {
	// Info is a progress line ("registered fixture on port 1944").
	Info(msg string)
	// Warn is something the operator should read (a port moved, a quirk).
	Warn(msg string)
	// Begin announces a long step ("installing fixture@2.0.0 with npm");
	// the installer calls the returned function once the step ends, with
	// its error (nil on success).
	Begin(step string) (end func(err error))
}

// Discard is a Reporter that drops everything.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Info(string)              {}
func (discard) Warn(string)              {}
func (discard) Begin(string) func(error) { return func(error) {} }

// Lines is a Reporter that records every line ("! " before warnings, and
// "… done"/"… failed" after steps), for the hub's operation log and tests.
type Lines struct {
	mu    sync.Mutex
	lines []string
	// OnLine, if set, is called with each line as it is recorded.
	OnLine func(string)
}

func (l *Lines) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	f := l.OnLine
	l.mu.Unlock()
	if f != nil {
		f(s)
	}
}

// Info implements Reporter.
func (l *Lines) Info(msg string) { l.add(msg) }

// Warn implements Reporter.
func (l *Lines) Warn(msg string) { l.add("! " + msg) }

// Begin implements Reporter.
func (l *Lines) Begin(step string) func(error) {
	l.add(step + " …")
	return func(err error) {
		if err != nil {
			l.add(fmt.Sprintf("%s: failed", step))
			return
		}
		l.add(step + ": done")
	}
}

// All returns a copy of the recorded lines.
func (l *Lines) All() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
