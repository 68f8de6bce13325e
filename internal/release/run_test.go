package release

import "testing"

// TestRunKeepsStderrApart: what the tests parse is a tool's stdout alone;
// a warning on stderr (as nix-bin prints on a fresh machine) stays out.
func TestRunKeepsStderrApart(t *testing.T) {
	sh := need(t, "sh", "dash")
	got := run(t, sh, "-c", `echo "warning: the group 'nixbld' does not exist" >&2; echo '{"a":1}'`)
	if got != "{\"a\":1}\n" {
		t.Errorf("run returned %q, want stdout alone", got)
	}
}
