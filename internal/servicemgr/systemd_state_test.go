package servicemgr

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFillServiceState reads the Service properties with the D-Bus types
// systemd sends (ExecMainCode and ExecMainStatus are int32, timestamps
// uint64): an exit fills LastExitCode, a signal LastExitSignal.
func TestFillServiceState(t *testing.T) {
	code := func(n int) *int { return &n }
	for _, c := range []struct {
		name string
		sp   map[string]any
		want State
	}{
		{"exited 78", map[string]any{"Result": "exit-code", "ExecMainExitTimestamp": uint64(1),
			"ExecMainCode": int32(cldExited), "ExecMainStatus": int32(78)},
			State{Result: "exit-code", LastExitCode: code(78)}},
		{"killed by SIGKILL", map[string]any{"Result": "signal", "ExecMainExitTimestamp": uint64(1),
			"ExecMainCode": int32(cldKilled), "ExecMainStatus": int32(9)},
			State{Result: "signal", LastExitSignal: 9}},
		{"dumped core on SIGSEGV", map[string]any{"Result": "core-dump", "ExecMainExitTimestamp": uint64(1),
			"ExecMainCode": int32(cldDumped), "ExecMainStatus": int32(11)},
			State{Result: "core-dump", LastExitSignal: 11}},
		{"running", map[string]any{"Result": "success", "MainPID": uint32(42), "NRestarts": uint32(2),
			"ExecMainCode": int32(0), "ExecMainStatus": int32(0)},
			State{Result: "success", MainPID: 42, NRestarts: 2}},
	} {
		var st State
		fillServiceState(&st, c.sp)
		if d := cmp.Diff(c.want, st); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}
}
