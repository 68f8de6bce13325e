package hub

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/supervisor"
)

// TestAPIStateMatchesSupervisorJSON: the API's copy of a module's state
// (internal/api) encodes exactly as the supervisor's own did before the
// API stopped importing it, every field set, so clients see no change.
func TestAPIStateMatchesSupervisorJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	code := 3
	full := supervisor.State{
		Short: "vault", Status: supervisor.StatusRunning, PID: 42, StartedAt: &at,
		Restarts: 2, RestartsInWindow: 1, LastCrashAt: &at, LastExitCode: &code,
		LastExitSignal: "SIGKILL", Ready: true, NextRestartAt: &at, Cgroup: "/sys/fs/cgroup/x",
		StartError: &supervisor.StartError{Type: "spawn_failed", Description: "no bun", Binary: "bun", At: at},
	}
	for name, st := range map[string]supervisor.State{"full": full, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(apiState(st))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("api.State JSON differs from supervisor.State (-supervisor +api):\n%s", diff)
			}
		})
	}
}
