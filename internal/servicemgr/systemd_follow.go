package servicemgr

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// JournalFollower is implemented by the Managers that can follow a unit's
// log as it grows (systemd). Callers type-assert a Manager to it.
type JournalFollower interface {
	// FollowJournal writes the unit's last n log lines to w, one a line, as
	// JournalTail selects them (so a failed unit's own last words are among
	// them), then each line the unit logs afterwards, until ctx ends. The
	// end of ctx is not an error. n == 0 shows no past lines (only what
	// comes); n < 0 means the default, 50.
	FollowJournal(ctx context.Context, name string, n int, w io.Writer) error
}

var _ JournalFollower = (*Systemd)(nil)

// FollowJournal implements JournalFollower: the first screen is the tail
// JournalTail would return (merged with a failed process's unit-less lines,
// see tailWithOutput), then `journalctl -f` from just after the last unit
// entry of that tail, so no line is lost or shown twice in between.
//
// journalctl's stdout goes straight to w; its stderr is kept apart and only
// quoted in the error, so a warning never mixes into the log lines.
func (m *Systemd) FollowJournal(ctx context.Context, name string, n int, w io.Writer) error {
	if n < 0 {
		n = 50
	}
	var lines []string
	cursor := ""
	if n > 0 {
		var err error
		if lines, cursor, err = m.followStart(ctx, name, n); err != nil {
			return err
		}
	}
	if len(lines) > 0 {
		if _, err := io.WriteString(w, strings.Join(lines, "\n")+"\n"); err != nil {
			return fmt.Errorf("writing the journal of %s: %w", name, err)
		}
	}
	args := []string{"-q", "--no-pager", "-o", "cat", "--follow"}
	if cursor != "" {
		// --no-tail: without it -f shows at most 10 entries after the cursor.
		args = append(args, "--after-cursor="+cursor, "--no-tail")
	} else {
		args = append(args, "-n", "0")
	}
	args = append(args, m.unitMatch(name)...)
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("following the journal of %s: %w: %s", name, err, firstLine(stderr.String()))
	}
	return nil
}

// followStart reads the first screen of FollowJournal: the unit's last n
// lines (with a failed process's own lines merged in, after waiting for
// them as JournalTail does) and the cursor of the last unit entry read, ""
// when there is none. A journalctl that cannot print JSON fields falls back
// to JournalTail's lines without a cursor.
func (m *Systemd) followStart(ctx context.Context, name string, n int) ([]string, string, error) {
	var run mainRun
	failed := false
	if c, err := m.connect(ctx); err == nil {
		run, failed = failedRun(ctx, c, name)
		c.Close()
	}
	if failed {
		m.awaitOutput(ctx, name, run)
	}
	unit, err := m.unitEntries(ctx, name, n)
	if err != nil {
		lines, err := m.journalTail(ctx, name, n)
		return lines, "", err
	}
	var own []journalEntry
	if failed {
		own, _ = m.ownEntries(ctx, name, run, n)
	}
	cursor := ""
	if len(unit) > 0 {
		cursor = unit[len(unit)-1].Cursor
	}
	return mergeTail(unit, own, n), cursor, nil
}
