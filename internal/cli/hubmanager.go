package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubsvc"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// managerView is the service manager's view of the hub, for status.
type managerView struct {
	label    string // managed unit (systemd) | managed unit (launchd) | foreground | container
	state    string // active | activating | inactive | failed | unknown | none
	lastExit *int
	detail   string
	subState string
	result   string
}

// hubManagerView asks the platform's service manager about the hub unit.
func hubManagerView(ctx context.Context, paths config.Paths) managerView {
	if os.Getenv("PARACHUTE_HOME") == config.ContainerHome {
		return managerView{label: "container", state: "none"}
	}
	mgr, err := servicemgr.Detect(servicemgr.HostDetectOptions())
	if err != nil || mgr.Kind() == servicemgr.KindNone {
		return managerView{label: "foreground", state: "none"}
	}
	ctl := &hubsvc.Controller{Paths: paths, Mgr: mgr}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := ctl.State(ctx)
	if !hubsvc.Usable(st) {
		// No unit here: the hub (if up) runs in the foreground, or under
		// the other scope's manager.
		if k := otherScopeUnit(ctl); k != "" {
			return managerView{label: fmt.Sprintf("managed unit (%s)", k), state: "unknown", detail: "(installed in the other scope)"}
		}
		return managerView{label: "foreground", state: "none"}
	}
	v := managerView{label: ctl.Label(st), lastExit: st.LastExitCode, subState: st.SubState, result: st.Result}
	if err != nil {
		v.state, v.detail = "unknown", err.Error()
		return v
	}
	switch st.ActiveState {
	case "active":
		v.state = "active"
	case "activating", "reloading", "deactivating":
		v.state = "activating"
	case "failed":
		v.state = "failed"
	case "inactive":
		v.state = "inactive"
	default:
		v.state, v.detail = "unknown", st.ActiveState
	}
	return v
}

// hubRowState combines the manager's state with /health (reference
// runtime.md §5.5, hub row table).
func hubRowState(m managerView, up bool) (string, []string) {
	switch m.state {
	case "none":
		if up {
			if m.label == "container" {
				return stateActive, []string{"container runtime (managed)"}
			}
			return stateActive, nil
		}
		if m.label == "container" {
			return stateFailing, []string{"container runtime: /health not answering"}
		}
		return stateInactive, []string{"hub is not running — start it with `parachute serve` (foreground) or `parachute init` (as a service)"}
	case "failed":
		n := "service manager reports the hub unit failed"
		if m.lastExit != nil {
			n += fmt.Sprintf(" (last exit code %d)", *m.lastExit)
		}
		return stateFailing, []string{n + " — see `parachute logs hub`"}
	case "active":
		if up {
			return stateActive, nil
		}
		return stateFailing, []string{"service manager reports active; /health not answering yet (starting or unhealthy)"}
	case "activating":
		if up {
			return stateActive, nil
		}
		if m.subState == "auto-restart" {
			n := "the hub keeps failing; the service manager is restarting it (" + m.result
			if m.lastExit != nil {
				n += fmt.Sprintf(", last exit code %d", *m.lastExit)
			}
			return stateFailing, []string{n + ") — see `parachute logs hub`"}
		}
		return statePending, []string{"service manager reports the hub unit is starting"}
	}
	if up {
		return stateActive, nil
	}
	var notes []string
	if m.state == "unknown" {
		notes = append(notes, "service manager state unknown "+m.detail)
	}
	notes = append(notes, "hub is stopped — `parachute start` starts it")
	return stateInactive, notes
}
