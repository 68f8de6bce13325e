package servicemgr

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// entryLine renders one journalctl -o json line; an empty unit field is
// left out, as journald leaves it out of an unattributed entry.
func entryLine(cursor, field, unit, pid, usec, msg string) string {
	u := ""
	if field != "" {
		u = `"` + field + `":"` + unit + `",`
	}
	return `{"__CURSOR":"` + cursor + `","__REALTIME_TIMESTAMP":"` + usec + `","_BOOT_ID":"b",` + u +
		`"_PID":"` + pid + `","MESSAGE":"` + msg + `"}`
}

func TestParseEntries(t *testing.T) {
	out := strings.Join([]string{
		entryLine("c1", "_SYSTEMD_UNIT", "hub.service", "4242", "1500", "hello"),
		"not json",
		`{"__CURSOR":"c2","__REALTIME_TIMESTAMP":"1600","_PID":[52,50],"MESSAGE":[104,105,255]}`,
		`{"__CURSOR":"c3","__REALTIME_TIMESTAMP":"soon","MESSAGE":"no time"}`,
		`{"__REALTIME_TIMESTAMP":"1700","MESSAGE":"no cursor"}`,
		`{"__CURSOR":"c4","__REALTIME_TIMESTAMP":"1800","MESSAGE":null,"_SYSTEMD_USER_UNIT":["a","b"]}`,
		// Longer than bufio.Scanner's default 64 KiB line.
		entryLine("c5", "_SYSTEMD_UNIT", "hub.service", "1", "1900", strings.Repeat("x", 70000)),
		"",
	}, "\n")
	got := parseEntries(out)
	want := []journalEntry{
		{Cursor: "c1", Usec: 1500, PID: 4242, Message: "hello", units: map[string]string{"_SYSTEMD_UNIT": "hub.service", "_SYSTEMD_USER_UNIT": ""}},
		{Cursor: "c2", Usec: 1600, PID: 42, Message: "hi\xff", units: map[string]string{"_SYSTEMD_UNIT": "", "_SYSTEMD_USER_UNIT": ""}},
		{Cursor: "c4", Usec: 1800, units: map[string]string{"_SYSTEMD_UNIT": "", "_SYSTEMD_USER_UNIT": ""}},
		{Cursor: "c5", Usec: 1900, PID: 1, Message: strings.Repeat("x", 70000), units: map[string]string{"_SYSTEMD_UNIT": "hub.service", "_SYSTEMD_USER_UNIT": ""}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(journalEntry{})); diff != "" {
		t.Errorf("parseEntries (-want +got):\n%s", diff)
	}
}

// FuzzParseEntries feeds journalctl output (untrusted: any process writes
// the logged values) to the parser and the merge; neither may panic, and
// every entry kept has a cursor.
func FuzzParseEntries(f *testing.F) {
	f.Add(entryLine("c1", "_SYSTEMD_UNIT", "hub.service", "4242", "1500", "hello"))
	f.Add(entryLine("c1", "", "", "1", "1500", "a\\nb") + "\n" + entryLine("c2", "_SYSTEMD_USER_UNIT", "hub.service", "4242", "2", ""))
	f.Add(`{"_PID":[1,2],"MESSAGE":null}` + "\n" + `[]` + "\n{")
	f.Add(`{"__CURSOR":"x","__REALTIME_TIMESTAMP":"-1","MESSAGE":[256,1]}`)
	f.Fuzz(func(t *testing.T, out string) {
		es := parseEntries(out)
		for _, e := range es {
			if e.Cursor == "" {
				t.Errorf("kept an entry without a cursor: %+v", e)
			}
		}
		mergeTail(es, es, 5)
	})
}

func TestMergeTail(t *testing.T) {
	e := func(c string, usec int64, msg string) journalEntry {
		return journalEntry{Cursor: c, Usec: usec, Message: msg}
	}
	unit := []journalEntry{e("a", 10, "Starting hub"), e("c", 30, "Main process exited"), e("d", 40, "Failed with result 'exit-code'")}
	own := []journalEntry{e("b", 20, "broken build\nsecond line"), e("c", 30, "Main process exited")}
	want := []string{"broken build", "second line", "Main process exited", "Failed with result 'exit-code'"}
	if diff := cmp.Diff(want, mergeTail(unit, own, 4)); diff != "" {
		t.Errorf("mergeTail (-want +got):\n%s", diff)
	}
}

// journalFake is a Runner standing in for journalctl: the query by pid
// finds the process's line, unattributed as a fast-exiting process's line
// is, from the arriveAt-th look on (0: never); the unit's tail holds only
// systemd's lines.
type journalFake struct {
	arriveAt int

	mu    sync.Mutex
	looks int
	calls [][]string
}

func (f *journalFake) run(_ context.Context, name string, args ...string) (string, string, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]string{name}, args...))
	switch {
	case !slices.Contains(args, "json"):
		return "Main process exited\nFailed with result 'exit-code'\n", "", 0, nil
	case !slices.Contains(args, "_PID=4242"):
		return entryLine("c0", "_SYSTEMD_UNIT", "hub.service", "1", "900", "Starting hub") + "\n" +
			entryLine("c2", "_SYSTEMD_UNIT", "hub.service", "1", "1600", "Main process exited") + "\n" +
			entryLine("c3", "_SYSTEMD_UNIT", "hub.service", "1", "1700", "Failed with result 'exit-code'") + "\n", "", 0, nil
	}
	f.looks++
	if f.arriveAt > 0 && f.looks >= f.arriveAt {
		return entryLine("cx", "_SYSTEMD_UNIT", "other.service", "4242", "1500", "another unit's process") + "\n" +
			entryLine("c9", "", "", "4242", "999", "an earlier process with this pid") + "\n" +
			entryLine("c1", "", "", "4242", "1500", "broken build") + "\n", "", 0, nil
	}
	return "", "", 0, nil
}

func TestAwaitOutput(t *testing.T) {
	run := mainRun{PID: 4242, StartUsec: 1000 + startSlack.Microseconds()}
	t.Run("line arrives on the third look", func(t *testing.T) {
		f := &journalFake{arriveAt: 3}
		m := NewSystemd(SystemdOptions{Runner: f.run, OutputWait: time.Minute})
		if !m.awaitOutput(context.Background(), "hub.service", run) {
			t.Fatal("awaitOutput gave up although the line arrived")
		}
		if f.looks != 3 {
			t.Errorf("looked %d times, want 3", f.looks)
		}
	})
	t.Run("the tail merges the unattributed line in", func(t *testing.T) {
		f := &journalFake{arriveAt: 2}
		m := NewSystemd(SystemdOptions{Runner: f.run, OutputWait: time.Minute})
		got, err := m.tailWithOutput(context.Background(), "hub.service", run, 3)
		want := []string{"broken build", "Main process exited", "Failed with result 'exit-code'"}
		if diff := cmp.Diff(want, got); diff != "" || err != nil {
			t.Errorf("tailWithOutput = %v (-want +got):\n%s", err, diff)
		}
	})
	t.Run("a silent process costs at most the wait", func(t *testing.T) {
		f := &journalFake{}
		const wait = 300 * time.Millisecond
		m := NewSystemd(SystemdOptions{Runner: f.run, OutputWait: wait})
		start := time.Now()
		if m.awaitOutput(context.Background(), "hub.service", run) {
			t.Fatal("awaitOutput found a line that never came")
		}
		if d := time.Since(start); d < wait || d > wait+time.Second {
			t.Errorf("waited %s, want about %s", d, wait)
		}
		if f.looks < 2 {
			t.Errorf("looked only %d times in %s", f.looks, wait)
		}
	})
	t.Run("negative wait does not look", func(t *testing.T) {
		f := &journalFake{arriveAt: 1}
		m := NewSystemd(SystemdOptions{Runner: f.run, OutputWait: -1})
		if m.awaitOutput(context.Background(), "hub.service", run) || len(f.calls) != 0 {
			t.Errorf("awaitOutput with a negative wait ran %q", f.calls)
		}
	})
	t.Run("a canceled context stops the wait", func(t *testing.T) {
		f := &journalFake{}
		m := NewSystemd(SystemdOptions{Runner: f.run, OutputWait: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if m.awaitOutput(ctx, "hub.service", run) {
			t.Error("awaitOutput found a line that never came")
		}
	})
	t.Run("user units", func(t *testing.T) {
		f := &journalFake{arriveAt: 1}
		m := NewSystemd(SystemdOptions{Runner: f.run, User: true, OutputWait: -1})
		if _, err := m.tailWithOutput(context.Background(), "hub.service", run, 3); err != nil {
			t.Fatal(err)
		}
		if len(f.calls) != 2 || !slices.Contains(f.calls[0], "--user-unit") {
			t.Errorf("user queries = %q", f.calls)
		}
	})
}
