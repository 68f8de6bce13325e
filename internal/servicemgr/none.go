package servicemgr

import "context"

// None is the Manager of a host without systemd or launchd (a container, an
// init-less host). Every operation returns ErrNoManager, whose message points
// at `parachute serve`.
type None struct{}

var _ Manager = None{}

// Kind implements Manager.
func (None) Kind() Kind { return KindNone }

// Install implements Manager; it writes nothing.
func (None) Install(context.Context, Unit, bool) ([]string, error) { return nil, ErrNoManager }

// Uninstall implements Manager; it removes nothing.
func (None) Uninstall(context.Context, string, string) (bool, error) { return false, ErrNoManager }

// Start implements Manager.
func (None) Start(context.Context, string) error { return ErrNoManager }

// Stop implements Manager.
func (None) Stop(context.Context, string) error { return ErrNoManager }

// Restart implements Manager.
func (None) Restart(context.Context, string) error { return ErrNoManager }

// State implements Manager; the State carries only the kind.
func (None) State(_ context.Context, _, path string) (State, error) {
	return State{Kind: KindNone, Path: path}, ErrNoManager
}

// JournalTail implements Manager.
func (None) JournalTail(context.Context, string, int) ([]string, error) { return nil, ErrNoManager }
