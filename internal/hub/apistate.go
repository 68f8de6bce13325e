package hub

import (
	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/supervisor"
)

// apiState converts the supervisor's snapshot to its API shape: the one
// place the API and the supervisor meet, so clients of internal/api never
// import the supervisor.
func apiState(st supervisor.State) api.State {
	return api.State{
		Short: st.Short, Status: string(st.Status), PID: st.PID, StartedAt: st.StartedAt,
		Restarts: st.Restarts, RestartsInWindow: st.RestartsInWindow, LastCrashAt: st.LastCrashAt,
		LastExitCode: st.LastExitCode, LastExitSignal: st.LastExitSignal,
		StartError: apiStartError(st.StartError), Ready: st.Ready,
		NextRestartAt: st.NextRestartAt, Cgroup: st.Cgroup,
	}
}

// apiStartError converts the supervisor's start error; nil stays nil.
func apiStartError(se *supervisor.StartError) *api.StartError {
	if se == nil {
		return nil
	}
	return &api.StartError{Type: se.Type, Description: se.Description, Binary: se.Binary, At: se.At}
}
