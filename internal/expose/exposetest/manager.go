package exposetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openparachute/parachute/internal/servicemgr"
)

// Manager is a servicemgr.Manager that writes unit files where it is told
// and records the calls, for tests that cannot reach a real systemd or
// launchd (the systemd-box test covers the real one). It refuses paths
// outside the temp dir: a system kind aims at /etc/systemd/system, and
// tests may run as root.
type Manager struct {
	KindOf servicemgr.Kind
	Calls  []string
	// MainPID is what State reports as every unit's main process.
	MainPID int
}

// Kind implements servicemgr.Manager.
func (m *Manager) Kind() servicemgr.Kind { return m.KindOf }

// Install writes the unit file and records the call.
func (m *Manager) Install(_ context.Context, u servicemgr.Unit, start bool) ([]string, error) {
	m.Calls = append(m.Calls, fmt.Sprintf("install %s start=%v", u.Name, start))
	if !strings.HasPrefix(u.Path, os.TempDir()) {
		return nil, fmt.Errorf("exposetest.Manager: refusing to write %s outside the temp dir", u.Path)
	}
	if err := os.MkdirAll(filepath.Dir(u.Path), 0o755); err != nil {
		return nil, err
	}
	return nil, os.WriteFile(u.Path, u.Content, 0o644)
}

// Uninstall removes the unit file and records the call.
func (m *Manager) Uninstall(_ context.Context, name, path string) (bool, error) {
	m.Calls = append(m.Calls, "uninstall "+name)
	if !strings.HasPrefix(path, os.TempDir()) {
		return false, fmt.Errorf("exposetest.Manager: refusing to remove %s outside the temp dir", path)
	}
	return os.Remove(path) == nil, nil
}

// Start, Stop and Restart succeed.
func (m *Manager) Start(context.Context, string) error { return nil }

// Stop implements servicemgr.Manager.
func (m *Manager) Stop(context.Context, string) error { return nil }

// Restart implements servicemgr.Manager.
func (m *Manager) Restart(context.Context, string) error { return nil }

// State reports MainPID and nothing else.
func (m *Manager) State(context.Context, string, string) (servicemgr.State, error) {
	return servicemgr.State{Kind: m.KindOf, MainPID: m.MainPID}, nil
}

// JournalTail reports nothing.
func (m *Manager) JournalTail(context.Context, string, int) ([]string, error) { return nil, nil }
