package modops

import (
	"context"
	"fmt"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/manifest"
)

// Install starts installing short in the background and returns the
// operation's id at once; poll it with Operation. b is the API request,
// already validated by the caller. It fails only with ErrShuttingDown.
func (m *Manager) Install(short string, b api.InstallBody) (string, error) {
	src := b.Source
	if src == "" {
		src = short
	}
	return m.startOp("install", short, func(ctx context.Context, in *install.Installer, logf func(string)) error {
		res, err := in.Install(ctx, install.Request{Source: src, Channel: b.Channel, Tag: b.Tag, Port: b.Port,
			NoStart: b.NoStart, AllowDowngrade: b.AllowDowngrade, NoCreate: b.NoCreate, VaultName: b.VaultName,
			ScribeProvider: b.ScribeProvider, ScribeKey: b.ScribeKey})
		if res != nil && err == nil {
			logf(res.Summary())
		}
		return err
	})
}

// Upgrade starts upgrading short in the background, like Install.
func (m *Manager) Upgrade(short string, b api.UpgradeBody) (string, error) {
	return m.startOp("upgrade", short, func(ctx context.Context, in *install.Installer, logf func(string)) error {
		res, err := in.Upgrade(ctx, install.UpgradeRequest{Short: short, From: b.From, Channel: b.Channel, Tag: b.Tag,
			AllowDowngrade: b.AllowDowngrade, DryRun: b.DryRun})
		if res != nil && err == nil {
			logf(res.Summary())
		}
		return err
	})
}

// Uninstall starts uninstalling short in the background, like Install.
func (m *Manager) Uninstall(short string, b api.UninstallBody) (string, error) {
	return m.startOp("uninstall", short, func(ctx context.Context, in *install.Installer, logf func(string)) error {
		res, err := in.Uninstall(ctx, install.UninstallRequest{Short: short, Purge: b.Purge})
		if err == nil {
			logf(fmt.Sprintf("✓ %s uninstalled", res.Short))
		}
		return err
	})
}

// Operation returns a copy of the operation with that id.
func (m *Manager) Operation(id string) (api.Operation, bool) { return m.reg.get(id) }

// OperationCount is how many operations the registry holds.
func (m *Manager) OperationCount() int {
	m.reg.mu.Lock()
	defer m.reg.mu.Unlock()
	return len(m.reg.byID)
}

// startOp registers an operation and runs fn on a goroutine the Manager
// owns (track), with an Installer whose progress lines go to the
// operation's log and whose Runtime is this Manager. The work is detached
// from the request that asked for it (a client that hangs up must not
// leave a half-installed module behind) but not from the hub: Shutdown
// cancels it and waits.
func (m *Manager) startOp(kind, short string, fn func(ctx context.Context, in *install.Installer, logf func(string)) error) (string, error) {
	ctx, done, err := m.track(InstallOpTimeout)
	if err != nil {
		return "", err
	}
	id := m.reg.create(kind, short)
	logf := func(line string) {
		m.reg.update(id, func(op *api.Operation) { op.Log = append(op.Log, line) })
	}
	in := m.installer(&install.Lines{OnLine: logf})
	go func() {
		defer done()
		m.reg.update(id, func(op *api.Operation) { op.Status = api.OpRunning })
		err := fn(ctx, in, logf)
		m.reg.update(id, func(op *api.Operation) {
			if err == nil {
				op.Status = api.OpSucceeded
				return
			}
			op.Status, op.Error = api.OpFailed, err.Error()
			op.ErrorDetail = &api.ErrorDetail{ErrorType: install.ErrorType(err)}
		})
		if err != nil {
			m.log.Warn("module operation failed", "op", kind, "module", short, "err", err)
		} else {
			m.log.Info("module operation succeeded", "op", kind, "module", short)
		}
	}()
	return id, nil
}

// installer is an Installer whose Runtime is this Manager, whose progress
// goes to rep, and whose init step runs a module with the environment the
// supervisor would give it.
func (m *Manager) installer(rep install.Reporter) *install.Installer {
	return install.New(install.Options{Paths: m.paths, Runtime: m.Runtime(), Reporter: rep, ModuleEnv: m.ModuleEnv})
}

// ModuleEnv is the environment short's process gets when the hub starts
// it (BuildSpec's: the hub's, PORT, PARACHUTE_HUB_ORIGIN, its .env).
func (m *Manager) ModuleEnv(short string) ([]string, error) {
	f, err := manifest.Load(m.paths.ServicesJSON())
	if err != nil {
		return nil, err
	}
	row, ok := f.Find(short)
	if !ok {
		return nil, fmt.Errorf("%s: %w", short, ErrNotInstalled)
	}
	spec, warns, err := m.BuildSpec(row)
	for _, w := range warns {
		m.log.Warn(w)
	}
	if err != nil {
		return nil, err
	}
	return spec.Env, nil
}
