package modops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/supervisor"
)

// specFor finds short's row and builds its spawn request. Row errors are
// ErrNotInstalled or ErrMountRefused; spec errors are ErrInvalidModule
// (and ErrNoStartCmd when that is why).
func (m *Manager) specFor(short string) (supervisor.Spec, []string, error) {
	row, err := m.FindRow(short)
	if err != nil {
		return supervisor.Spec{}, nil, err
	}
	spec, warns, err := m.BuildSpec(row)
	if err != nil {
		return supervisor.Spec{}, warns, &invalidModuleError{err}
	}
	return spec, warns, nil
}

// invalidModuleError is ErrInvalidModule; its text is the spec error's.
type invalidModuleError struct{ err error }

func (e *invalidModuleError) Error() string        { return e.err.Error() }
func (e *invalidModuleError) Unwrap() error        { return e.err }
func (e *invalidModuleError) Is(target error) bool { return target == ErrInvalidModule }

// withOpTimeout bounds ctx by OpTimeout unless it has a deadline already.
func withOpTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, OpTimeout)
}

// StartModule rebuilds short's spawn request from disk and starts it, or
// restarts it when restart is set and it is supervised. It returns the
// module's state and the spec's warnings (an ignored .env line, a loose
// root). Besides the row and spec errors of FindRow and BuildSpec, a
// module that did not come up returns the supervisor's error
// (supervisor.ErrNotReady, …) with its state; DescribeStartFailure says
// why in words. Without a deadline on ctx the start is bounded by
// OpTimeout from the moment the module's lock is held.
func (m *Manager) StartModule(ctx context.Context, short string, restart bool) (supervisor.State, []string, error) {
	l := m.moduleLock(short)
	l.Lock()
	defer l.Unlock()
	ctx, cancel := withOpTimeout(ctx)
	defer cancel()
	spec, warns, err := m.specFor(short)
	if err != nil {
		return supervisor.State{}, warns, err
	}
	var st supervisor.State
	if _, supervised := m.sup.Get(short); restart && supervised {
		st, err = m.sup.Restart(ctx, spec)
	} else {
		st, err = m.sup.Start(ctx, spec)
	}
	return st, warns, err
}

// StopModule stops short under its lock. supervised is false when it was
// not running under this hub (not an error). Without a deadline on ctx the
// stop is bounded by OpTimeout from the moment the lock is held.
func (m *Manager) StopModule(ctx context.Context, short string) (st supervisor.State, supervised bool, err error) {
	l := m.moduleLock(short)
	l.Lock()
	defer l.Unlock()
	ctx, cancel := withOpTimeout(ctx)
	defer cancel()
	return m.sup.Stop(ctx, short)
}

// DescribeStartFailure is the operator's sentence for a start that failed:
// the supervisor's recorded reason, else the error.
func DescribeStartFailure(short string, st supervisor.State, err error) string {
	if st.StartError != nil && st.StartError.Description != "" {
		return st.StartError.Description
	}
	return fmt.Sprintf("%s did not start: %v", short, err)
}

// Runtime is the installer's view of this hub: it starts and stops
// modules through the Manager, like the API does.
func (m *Manager) Runtime() install.Runtime { return runtime{m} }

type runtime struct{ m *Manager }

// Start implements install.Runtime: restart when supervised, else start,
// and report the supervisor's reason when the module is not ready.
func (rt runtime) Start(ctx context.Context, short string) error {
	st, warns, err := rt.m.StartModule(ctx, short, true)
	for _, w := range warns {
		rt.m.log.Warn(w)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotInstalled):
		return fmt.Errorf("%s has no services.json entry", short)
	case errors.Is(err, ErrMountRefused), errors.Is(err, ErrInvalidModule):
		return err
	}
	return fmt.Errorf("%s: %w", DescribeStartFailure(short, st, err), err)
}

// Stop implements install.Runtime.
func (rt runtime) Stop(ctx context.Context, short string) error {
	_, _, err := rt.m.StopModule(ctx, short)
	return err
}

// Boot finishes or undoes a replacement a crash cut short, reaps module
// process groups left by a previous hub, then starts every registered
// module concurrently and returns once each has come up or failed. Rows
// the mount rules refuse are logged and skipped.
func (m *Manager) Boot(ctx context.Context) {
	_, _ = install.Recover(m.paths, m.log) // it logs what it did
	f, refused, warns := m.Routable()
	for _, w := range warns {
		m.log.Warn("services.json", "warning", w)
	}
	m.logRefusals(refused)
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for _, row := range f.Services {
		short := manifest.ShortName(row.Name)
		if seen[short] || row.Disabled {
			continue // vault instances share one process
		}
		seen[short] = true
		if killed, err := supervisor.ReapStale(m.paths.ModuleRunDir(short), m.log); err != nil {
			m.log.Warn("reaping a stale module process group", "module", short, "err", err)
		} else if killed {
			m.log.Info("killed a module process group left by a previous hub", "module", short)
		}
		spec, specWarns, err := m.BuildSpec(row)
		for _, w := range specWarns {
			m.log.Warn(w)
		}
		if err != nil {
			m.log.Warn("not starting module", "module", short, "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := m.moduleLock(short)
			l.Lock()
			defer l.Unlock()
			st, err := m.sup.Start(ctx, spec)
			if err != nil {
				m.log.Warn("module did not start", "module", short, "status", st.Status, "err", err)
				return
			}
			m.log.Info("module started", "module", short, "pid", st.PID, "cmd", strings.Join(spec.Argv, " "))
		}()
	}
	wg.Wait()
}
