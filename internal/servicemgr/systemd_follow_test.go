package servicemgr

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFollowStart checks the first screen of FollowJournal and the cursor
// the follow resumes after, for a unit that did not fail (no bus here, so
// failedRun says no): the unit's entries as lines, the last one's cursor;
// and, from a journalctl that cannot print JSON fields, the plain tail and
// no cursor.
func TestFollowStart(t *testing.T) {
	json := strings.Join([]string{
		entryLine("c1", "_SYSTEMD_USER_UNIT", "hub.service", "7", "100", "one"),
		entryLine("c2", "_SYSTEMD_USER_UNIT", "hub.service", "7", "200", "two\\nthree"),
	}, "\n") + "\n"
	for _, tc := range []struct {
		name       string
		runner     Runner
		wantLines  []string
		wantCursor string
	}{
		{
			name: "json",
			runner: func(_ context.Context, _ string, args ...string) (string, string, int, error) {
				if !slices.Contains(args, "--user-unit") || !slices.Contains(args, "hub.service") {
					return "", "bad args", 1, nil
				}
				return json, "journalctl: a warning on stderr\n", 0, nil
			},
			wantLines:  []string{"one", "two", "three"},
			wantCursor: "c2",
		},
		{
			name: "no output fields",
			runner: func(_ context.Context, _ string, args ...string) (string, string, int, error) {
				if slices.Contains(args, "json") {
					return "", "journalctl: unrecognized option '--output-fields'\n", 1, nil
				}
				return "one\ntwo\n", "", 0, nil
			},
			wantLines: []string{"one", "two"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewSystemd(SystemdOptions{User: true, BusAddress: "unix:path=/nonexistent/bus", Runner: tc.runner})
			lines, cursor, err := m.followStart(context.Background(), "hub.service", 20)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantLines, lines); diff != "" || cursor != tc.wantCursor {
				t.Errorf("cursor %q, want %q; lines (-want +got):\n%s", cursor, tc.wantCursor, diff)
			}
		})
	}
}
