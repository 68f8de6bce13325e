package modops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/hubsvc"
	"github.com/openparachute/parachute/internal/selfupdate"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// UpgradeHost is what the hub self-upgrade asks of the host; tests
// replace it.
type UpgradeHost struct {
	// Detect says how this binary was installed.
	Detect func(ctx context.Context) (selfupdate.Source, error)
	// Manager is the service manager that runs this hub.
	Manager func() (servicemgr.Manager, error)
	// Spawn starts the upgrade helper outside the hub's own unit.
	Spawn func(ctx context.Context, kind servicemgr.Kind, unit string, argv, env []string) error
	// Exe is this binary's path.
	Exe func() (string, error)
}

// HostDefaults is the real host.
func HostDefaults() UpgradeHost {
	return UpgradeHost{
		Detect: func(ctx context.Context) (selfupdate.Source, error) {
			return selfupdate.Detect(ctx, selfupdate.HostDefaults())
		},
		Manager: func() (servicemgr.Manager, error) { return servicemgr.Detect(servicemgr.HostDetectOptions()) },
		Spawn:   selfupdate.SpawnHelper,
		Exe:     os.Executable,
	}
}

// UpgradeHub starts a hub self-upgrade: checks, a smoke test of the new
// binary, the status file, then a helper outside the hub's own unit
// (`parachute upgrade hub --from ... --op <id>`) that swaps the binary,
// restarts the unit and rolls back if the new hub is not healthy. The hub
// never rewrites or restarts itself inline: the restart would kill it
// mid-way. b's channel is validated by the caller. The flow exists only
// behind POST /api/hub/upgrade, so its refusals are *api.Error values
// with the status the API answers.
func (m *Manager) UpgradeHub(ctx context.Context, b api.HubUpgradeBody) (api.HubUpgradeAccepted, error) {
	now := m.now()
	m.upgradeMu.Lock()
	defer m.upgradeMu.Unlock()
	path := selfupdate.StatusPath(m.paths)
	prev, err := selfupdate.ReadStatus(path)
	if err != nil {
		m.log.Warn("unreadable hub upgrade status; starting over", "err", err)
		prev = nil
	}
	if prev != nil {
		if prev.Reconcile(m.version, now) {
			_ = selfupdate.WriteStatus(path, prev)
		}
		if prev.InFlight(now) {
			return api.HubUpgradeAccepted{}, api.Errorf(http.StatusConflict, api.CodeUpgradeInFlight,
				"a hub upgrade is already %s (operation %s); poll GET /api/hub/upgrade/status", prev.Phase, prev.OperationID)
		}
	}
	src, err := m.host.Detect(ctx)
	if err != nil {
		return api.HubUpgradeAccepted{}, api.Errorf(http.StatusInternalServerError, api.CodeDetectFailed, "%v", err)
	}
	id := newOpID()
	st := &selfupdate.Status{OperationID: id, CurrentVersion: m.version, From: b.From, Log: []string{},
		StartedAt: now.UTC(), UpdatedAt: now.UTC()}
	switch {
	case src.Kind == selfupdate.KindContainer:
		st.Mode, st.Log = selfupdate.PhaseRedeployRequired, []string{selfupdate.ErrRedeployRequired.Error()}
		st.Finish(selfupdate.PhaseRedeployRequired, nil, now)
		if err := selfupdate.WriteStatus(path, st); err != nil {
			return api.HubUpgradeAccepted{}, api.Errorf(http.StatusInternalServerError, api.CodeStatusWriteFailed, "%v", err)
		}
		return api.HubUpgradeAccepted{OperationID: id, Mode: st.Mode, CurrentVersion: m.version}, nil
	case src.Packaged():
		return api.HubUpgradeAccepted{}, api.Errorf(http.StatusConflict, api.CodePackaged, "%v", &selfupdate.PackagedError{Source: src})
	case b.From == "":
		return api.HubUpgradeAccepted{}, api.Errorf(http.StatusBadRequest, api.CodeNoReleaseSource,
			`no release source is configured for the hub; send {"from": "/absolute/path/to/new/parachute"}`)
	case !filepath.IsAbs(b.From):
		return api.HubUpgradeAccepted{}, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "from must be an absolute path, got %q", b.From)
	}
	mgr, err := m.upgradeManager(ctx)
	if err != nil {
		return api.HubUpgradeAccepted{}, err
	}
	target, err := selfupdate.VersionOf(ctx, b.From)
	if err != nil {
		return api.HubUpgradeAccepted{}, api.Errorf(http.StatusBadRequest, api.CodeSmokeTestFailed, "%v", err)
	}
	st.Mode, st.Phase, st.TargetVersion = "in-place", selfupdate.PhasePending, &target
	st.Log = append(st.Log, fmt.Sprintf("accepted hub upgrade %s → %s from %s", m.version, target, b.From))
	if err := selfupdate.WriteStatus(path, st); err != nil {
		return api.HubUpgradeAccepted{}, api.Errorf(http.StatusInternalServerError, api.CodeStatusWriteFailed, "%v", err)
	}
	if err := m.spawnUpgradeHelper(ctx, mgr.Kind(), id, b); err != nil {
		st.Log = append(st.Log, err.Error())
		st.Finish(selfupdate.PhaseFailed, err, m.now())
		_ = selfupdate.WriteStatus(path, st)
		return api.HubUpgradeAccepted{}, api.Errorf(http.StatusInternalServerError, api.CodeHelperFailed, "%v", err)
	}
	m.log.Info("hub upgrade started", "op", id, "from", m.version, "to", target)
	return api.HubUpgradeAccepted{OperationID: id, Mode: st.Mode, CurrentVersion: m.version, TargetVersion: &target}, nil
}

// upgradeManager returns the service manager that runs this hub, or why an
// in-place upgrade cannot restart it.
func (m *Manager) upgradeManager(ctx context.Context) (servicemgr.Manager, error) {
	mgr, err := m.host.Manager()
	if err != nil {
		return nil, api.Errorf(http.StatusInternalServerError, api.CodeNoManager, "%v", err)
	}
	if mgr.Kind() == servicemgr.KindNone {
		return nil, api.Errorf(http.StatusConflict, api.CodeNoManager,
			"no service manager runs this hub, so it cannot restart itself; on the host run `parachute upgrade hub --from <binary>` and restart `parachute serve`")
	}
	ctl := &hubsvc.Controller{Paths: m.paths, Mgr: mgr}
	st, _ := ctl.State(ctx)
	if !st.Installed && st.LoadState != "loaded" {
		return nil, api.Errorf(http.StatusConflict, api.CodeNotManaged,
			"this hub is not run by %s (no %s unit), so it cannot restart itself; on the host run `parachute upgrade hub --from <binary>`", mgr.Kind(), ctl.UnitName())
	}
	return mgr, nil
}

// spawnUpgradeHelper runs `parachute upgrade hub --from ... --op <id>`
// outside this hub's unit, with the hub's environment minus what systemd
// gave the hub alone.
func (m *Manager) spawnUpgradeHelper(ctx context.Context, kind servicemgr.Kind, id string, b api.HubUpgradeBody) error {
	exe, err := m.host.Exe()
	if err != nil {
		return fmt.Errorf("finding this binary: %w", err)
	}
	// "--flag=value" forms and flags before the target: the CLI moves
	// flags that follow a positional, and would take a bare value of a
	// flag it does not know for the target.
	argv := []string{exe, "upgrade", "--from=" + b.From, "--op=" + id}
	if b.AllowDowngrade {
		argv = append(argv, "--allow-downgrade")
	}
	argv = append(argv, "hub")
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !managerEnv[k] && k != "PARACHUTE_HOME" {
			env = append(env, kv)
		}
	}
	env = append(env, "PARACHUTE_HOME="+m.paths.Root)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := m.host.Spawn(sctx, kind, selfupdate.HelperUnitName(id), argv, env); err != nil {
		return fmt.Errorf("starting the upgrade helper: %w", err)
	}
	return nil
}

// HubUpgradeStatus returns the status file, settled first: a restarting
// upgrade whose target is now running is written succeeded, and one with
// no progress for a while failed, so it never blocks the next. It is nil
// when no upgrade was ever started.
func (m *Manager) HubUpgradeStatus() (*selfupdate.Status, error) {
	m.upgradeMu.Lock()
	defer m.upgradeMu.Unlock()
	path := selfupdate.StatusPath(m.paths)
	st, err := selfupdate.ReadStatus(path)
	if err != nil || st == nil {
		return nil, err
	}
	if st.Reconcile(m.version, m.now()) {
		if err := selfupdate.WriteStatus(path, st); err != nil && !errors.Is(err, os.ErrPermission) {
			m.log.Warn("could not settle the hub upgrade status", "err", err)
		}
	}
	return st, nil
}

// newOpID is a random 128-bit operation id, hex-encoded: the registry's
// operations and the hub upgrade's.
func newOpID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
