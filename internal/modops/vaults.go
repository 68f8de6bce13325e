package modops

import (
	"github.com/openparachute/parachute/internal/install"
)

// CreateVault adds the vault instance name (install.Installer.CreateVault)
// and restarts vault through the supervisor so it serves it; progress
// lines go to logf. Like the background operations it is detached from
// the request that asked for it, so a client hanging up does not kill
// `parachute-vault create` half-way, and Shutdown waits for it. It is
// bounded by OpTimeout, as a restart is: its caller answers when it ends.
func (m *Manager) CreateVault(name string, logf func(string)) (*install.VaultCreated, error) {
	ctx, done, err := m.track(OpTimeout)
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := m.installer(&install.Lines{OnLine: logf}).CreateVault(ctx, name)
	if err != nil {
		m.log.Warn("creating a vault failed", "vault", name, "err", err)
	} else if res.Created {
		m.log.Info("created a vault", "vault", name)
	}
	return res, err
}
