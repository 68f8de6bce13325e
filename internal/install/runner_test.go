package install

import (
	"context"
	"testing"
)

// TestExecRunnerOutput: a program's stdout is what callers parse, so a
// warning on stderr (npm warn ..., git's warning: ...) must stay out of it
// when the program succeeds, and must be there for the error message when
// it fails.
func TestExecRunnerOutput(t *testing.T) {
	for _, c := range []struct {
		name, script string
		wantOut      string
		wantCode     int
	}{
		{"success keeps stderr out", `echo "npm warn config production Use --omit=dev" >&2; echo /usr/lib/node_modules`, "/usr/lib/node_modules\n", 0},
		{"failure keeps both for the message", `echo partial; echo "fatal: not a git repository" >&2; exit 3`, "partial\nfatal: not a git repository\n", 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, code, err := ExecRunner(context.Background(), Cmd{Name: "sh", Args: []string{"-c", c.script}})
			if err != nil || code != c.wantCode || string(out) != c.wantOut {
				t.Errorf("ExecRunner = %q, %d, %v; want %q, %d, nil", out, code, err, c.wantOut, c.wantCode)
			}
		})
	}
}
