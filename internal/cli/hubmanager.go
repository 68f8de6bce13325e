package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/openparachute/parachute/internal/config"
)

// managerView is the service manager's view of the hub, for status.
type managerView struct {
	label    string // managed unit (systemd) | managed unit (launchd) | foreground | container
	state    string // active | activating | inactive | failed | unknown | none
	lastExit *int
	detail   string
}

// hubManagerView asks the platform's service manager about the hub unit.
func hubManagerView(ctx context.Context, paths config.Paths) managerView {
	if os.Getenv("PARACHUTE_HOME") == config.ContainerHome {
		return managerView{label: "container", state: "none"}
	}
	return managerView{label: "foreground", state: "none"}
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
