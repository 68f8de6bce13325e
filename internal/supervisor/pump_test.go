package supervisor

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// panicky is a sink whose Write panics, standing in for a logsink bug.
type panicky struct{ writes, closes int }

func (p *panicky) Write([]byte) (int, error) { p.writes++; panic("sink bug") }
func (p *panicky) Close() error              { p.closes++; return nil }

// A panic in the log sink must not end the hub: pump logs it, keeps
// reading the pipe to EOF (so the child never blocks on a full pipe) and
// returns.
func TestPumpSurvivesAPanickingSink(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	sink := &panicky{}
	var wg sync.WaitGroup
	wg.Add(1)
	go pump(r, sink, &wg, log)

	// Four times a pipe's default capacity: this only completes if pump
	// keeps draining after the panic.
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for range 4 {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	wg.Wait()
	if sink.writes != 1 {
		t.Errorf("sink got %d writes, want 1 (then discarded)", sink.writes)
	}
	if !strings.Contains(logs.String(), "module log pipeline failed") || !strings.Contains(logs.String(), "sink bug") {
		t.Errorf("the panic was not logged: %q", logs.String())
	}
}
