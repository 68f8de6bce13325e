package servicemgr

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// DefaultOutputWait bounds how long a failure's journal tail waits for the
// failed process's own output to reach the journal.
const DefaultOutputWait = 2 * time.Second

// outputPoll is the pause between two looks at the journal while waiting.
const outputPoll = 50 * time.Millisecond

// JournalTail implements Manager by running journalctl.
//
// When the unit's last main process failed and nothing runs now, it first
// waits (at most OutputWait) until a line written by that process has
// reached the journal, and merges that process's lines into the tail, so
// the tail shows why it failed; see awaitOutput and tailWithOutput.
//
// Why not go-systemd's sdjournal: it dlopens libsystemd through cgo, and
// this binary is static and built without cgo. journalctl ships with every
// systemd, reads the same files, and -o cat prints just the messages.
func (m *Systemd) JournalTail(ctx context.Context, name string, n int) ([]string, error) {
	if c, err := m.connect(ctx); err == nil {
		run, failed := failedRun(ctx, c, name)
		c.Close()
		if failed {
			return m.tailWithOutput(ctx, name, run, n)
		}
	}
	return m.journalTail(ctx, name, n)
}

// failureTail is the journal tail for a job that failed, on an open
// connection: JournalTail, with the failed process's own lines merged in.
func (m *Systemd) failureTail(ctx context.Context, c *sdbus.Conn, name string) []string {
	run, failed := failedRun(ctx, c, name)
	if !failed {
		lines, _ := m.journalTail(ctx, name, m.opts.JournalLines)
		return lines
	}
	lines, _ := m.tailWithOutput(ctx, name, run, m.opts.JournalLines)
	return lines
}

// tailWithOutput waits for run's output (awaitOutput) and returns the last
// n messages of the unit merged with the messages run's process wrote.
//
// Why the merge: a process that exits right after writing is often gone
// before journald looks up whose stream it is, and journald then stores its
// lines without any unit field (no _SYSTEMD_UNIT or _SYSTEMD_USER_UNIT: seen
// with user units on systemd 252). `journalctl -u` never shows such a line,
// although it is exactly the one the operator needs; it is found by the
// process's pid instead.
func (m *Systemd) tailWithOutput(ctx context.Context, name string, run mainRun, n int) ([]string, error) {
	if n <= 0 {
		n = 50
	}
	m.awaitOutput(ctx, name, run)
	unit, uerr := m.unitEntries(ctx, name, n)
	own, oerr := m.ownEntries(ctx, name, run, n)
	if uerr != nil && oerr != nil {
		return m.journalTail(ctx, name, n) // e.g. a journalctl without --output-fields
	}
	return mergeTail(unit, own, n), nil
}

// journalTail reads the last n messages of the unit, as they are now.
func (m *Systemd) journalTail(ctx context.Context, name string, n int) ([]string, error) {
	if n <= 0 {
		n = 50
	}
	stdout, err := m.journalctl(ctx, name, append([]string{"-q", "--no-pager", "-o", "cat", "-n", strconv.Itoa(n)}, m.unitMatch(name)...))
	if err != nil {
		return nil, err
	}
	return lastLines(stdout, n), nil
}

// journalctl runs journalctl with args and returns its stdout; a failure
// to run it or a non-zero exit is an error about name's journal.
func (m *Systemd) journalctl(ctx context.Context, name string, args []string) (string, error) {
	stdout, stderr, code, err := m.opts.Runner(ctx, "journalctl", args...)
	if err != nil {
		return "", fmt.Errorf("reading the journal of %s: %w", name, err)
	}
	if code != 0 {
		return "", fmt.Errorf("reading the journal of %s: journalctl exited %d: %s", name, code, firstLine(stderr))
	}
	return stdout, nil
}

// unitMatch is journalctl's selector of the unit's entries: -u for a
// system unit, --user-unit for one of the user manager.
func (m *Systemd) unitMatch(name string) []string {
	if m.opts.User {
		return []string{"--user-unit", name}
	}
	return []string{"-u", name}
}

// startSlack is how much earlier than ExecMainStartTimestamp a line of the
// main process may be stamped. Why: systemd takes that timestamp in the
// parent after fork, and a child that writes at once can be logged (and
// stamped by journald) a few hundred µs before it. A second is far more
// than that, and far less than the time a pid takes to be reused.
const startSlack = time.Second

// mainRun identifies one run of a unit's main process.
type mainRun struct {
	PID int
	// StartUsec is ExecMainStartTimestamp (µs since the epoch): an entry of
	// the same pid logged before it belongs to an earlier process.
	StartUsec int64
}

// failedRun reads the unit's last main process and reports whether it is
// a failure worth waiting for: the service's Result is not "success", the
// process has exited (ExecMainExitTimestamp) and no main process runs now
// (failed, or waiting in auto-restart). Errors read as "no".
func failedRun(ctx context.Context, c *sdbus.Conn, name string) (mainRun, bool) {
	if !strings.HasSuffix(name, ".service") {
		return mainRun{}, false
	}
	sp, err := c.GetUnitTypePropertiesContext(ctx, name, "Service")
	if err != nil {
		return mainRun{}, false
	}
	run := mainRun{PID: num(sp["ExecMainPID"]), StartUsec: int64(num(sp["ExecMainStartTimestamp"]))}
	failed := run.PID > 0 && num(sp["MainPID"]) == 0 && num(sp["ExecMainExitTimestamp"]) > 0 &&
		str(sp["Result"]) != "" && str(sp["Result"]) != "success"
	return run, failed
}

// awaitOutput waits until the journal holds an entry written by run's
// process, or OutputWait passes, or ctx ends.
//
// Why: journald receives systemd's own messages about a unit ("Main process
// exited", "Failed with result") and the unit's stdout/stderr through
// different sockets, and reads them in no particular order. Right after a
// start job fails, the process's last words (its error message, the one line
// the operator needs) may still sit unread in the stream socket, and a tail
// read then shows only systemd's lines. The journal offers no wake-up a
// static, cgo-free binary can wait on (sd_journal_wait needs libsystemd), so
// this polls, briefly and boundedly: a process that printed nothing costs at
// most OutputWait.
//
// As root, `journalctl --sync` first asks journald to process what it has
// pending, so the first look usually succeeds. It is skipped otherwise:
// journald's varlink socket is root-only (a user gets "Failed to connect to
// /run/systemd/journal/io.systemd.journal: Permission denied", checked on
// systemd 252).
func (m *Systemd) awaitOutput(ctx context.Context, name string, run mainRun) bool {
	wait := m.opts.OutputWait
	if wait < 0 {
		return false
	}
	if wait == 0 {
		wait = DefaultOutputWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if !m.opts.User && os.Geteuid() == 0 {
		_, _, _, _ = m.opts.Runner(ctx, "journalctl", "--sync")
	}
	tick := time.NewTicker(outputPoll)
	defer tick.Stop()
	for {
		if own, err := m.ownEntries(ctx, name, run, 1); err == nil && len(own) > 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// jsonArgs asks journalctl for the last n entries as JSON with just the
// fields the tail needs (it adds __CURSOR and __REALTIME_TIMESTAMP itself).
// JSON rather than text, so fields are checked exactly instead of parsed
// out of prose; --all, or messages over 4 KiB come back as null.
func jsonArgs(n int) []string {
	return []string{"-q", "--no-pager", "--all", "-o", "json",
		"--output-fields=MESSAGE,_PID,_SYSTEMD_UNIT,_SYSTEMD_USER_UNIT", "-n", strconv.Itoa(n)}
}

// unitEntries reads the unit's last n entries, as journalTail selects them.
func (m *Systemd) unitEntries(ctx context.Context, name string, n int) ([]journalEntry, error) {
	return m.queryEntries(ctx, name, append(jsonArgs(n), m.unitMatch(name)...))
}

// ownEntries reads up to n entries logged by run's process since it started
// that belong to the unit: those naming it, and those naming no unit at all
// (see tailWithOutput).
func (m *Systemd) ownEntries(ctx context.Context, name string, run mainRun, n int) ([]journalEntry, error) {
	all, err := m.queryEntries(ctx, name, append(jsonArgs(n+20), "_PID="+strconv.Itoa(run.PID)))
	if err != nil {
		return nil, err
	}
	field := "_SYSTEMD_UNIT"
	if m.opts.User {
		field = "_SYSTEMD_USER_UNIT"
	}
	var own []journalEntry
	for _, e := range all {
		if e.PID != run.PID || e.Usec < run.StartUsec-startSlack.Microseconds() {
			continue // another process, or an earlier one with the same pid
		}
		if e.units[field] == name || (e.units["_SYSTEMD_UNIT"] == "" && e.units["_SYSTEMD_USER_UNIT"] == "") {
			own = append(own, e)
		}
	}
	if len(own) > n {
		own = own[len(own)-n:]
	}
	return own, nil
}

// queryEntries runs journalctl with args (jsonArgs and a selector) and
// parses its entries.
func (m *Systemd) queryEntries(ctx context.Context, name string, args []string) ([]journalEntry, error) {
	stdout, err := m.journalctl(ctx, name, args)
	if err != nil {
		return nil, err
	}
	return parseEntries(stdout), nil
}

// journalEntry is one journal entry, as much as the tail needs of it.
type journalEntry struct {
	Cursor  string
	Usec    int64 // __REALTIME_TIMESTAMP
	PID     int
	Message string
	units   map[string]string // _SYSTEMD_UNIT, _SYSTEMD_USER_UNIT
}

// parseEntries decodes journalctl's JSON output (one object a line).
// Lines it cannot parse, and entries without a cursor or timestamp, are
// skipped: the values come from whatever the logging process wrote.
func parseEntries(out string) []journalEntry {
	var es []journalEntry
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		var raw map[string]json.RawMessage
		if json.Unmarshal(sc.Bytes(), &raw) != nil {
			continue
		}
		e := journalEntry{Cursor: jsonString(raw["__CURSOR"]), Message: jsonString(raw["MESSAGE"]),
			units: map[string]string{"_SYSTEMD_UNIT": jsonString(raw["_SYSTEMD_UNIT"]),
				"_SYSTEMD_USER_UNIT": jsonString(raw["_SYSTEMD_USER_UNIT"])}}
		// journalctl writes numbers as decimal strings.
		usec, err := strconv.ParseInt(jsonString(raw["__REALTIME_TIMESTAMP"]), 10, 64)
		if err != nil || e.Cursor == "" {
			continue
		}
		e.Usec = usec
		e.PID, _ = strconv.Atoi(jsonString(raw["_PID"]))
		es = append(es, e)
	}
	return es
}

// jsonString decodes a journal field: a JSON string, or an array of bytes
// (how journalctl writes a value that is not UTF-8). Anything else, such as
// null or a repeated field's array of strings, is "".
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if len(raw) > 0 && raw[0] == '[' {
		var b []byte // from an array of numbers, each 0-255
		if json.Unmarshal(raw, &b) == nil {
			return string(b)
		}
	}
	return ""
}

// mergeTail merges two lists of entries (each oldest first) by time without
// duplicates and returns the messages of the last n, a line a message line,
// as `journalctl -o cat` prints them.
func mergeTail(a, b []journalEntry, n int) []string {
	seen := map[string]bool{}
	var all []journalEntry
	for _, e := range append(append([]journalEntry{}, a...), b...) {
		if !seen[e.Cursor] {
			seen[e.Cursor] = true
			all = append(all, e)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Usec < all[j].Usec })
	var lines []string
	for _, e := range all {
		lines = append(lines, strings.Split(strings.TrimRight(e.Message, "\n"), "\n")...)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
