package hub

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
	"sync"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/hubsvc"
	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/selfupdate"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// hubUpgradeEnv is what the hub-upgrade handler asks of the host; tests
// replace it.
type hubUpgradeEnv struct {
	detect  func(ctx context.Context) (selfupdate.Source, error)
	manager func() (servicemgr.Manager, error)
	spawn   func(ctx context.Context, kind servicemgr.Kind, unit string, argv, env []string) error
	exe     func() (string, error)
}

var defaultHubUpgradeEnv = hubUpgradeEnv{
	detect: func(ctx context.Context) (selfupdate.Source, error) {
		return selfupdate.Detect(ctx, selfupdate.HostDefaults())
	},
	manager: func() (servicemgr.Manager, error) { return servicemgr.Detect(servicemgr.HostDetectOptions()) },
	spawn:   selfupdate.SpawnHelper,
	exe:     os.Executable,
}

// hubUpgradeMu serialises reads and writes of the status file by this
// hub's handlers (the helper process writes it too, one step at a time).
var hubUpgradeMu sync.Mutex

// handleHubUpgrade starts a hub self-upgrade: checks, a smoke test of the
// new binary, the status file, then a helper outside the hub's own unit
// (`parachute upgrade hub --from ... --op <id>`) that swaps the binary,
// restarts the unit and rolls back if the new hub is not healthy. The hub
// never rewrites or restarts itself inline: the restart would kill it
// mid-way.
func (s *Server) handleHubUpgrade(w http.ResponseWriter, r *http.Request) error {
	return s.hubUpgrade(w, r, defaultHubUpgradeEnv)
}

func (s *Server) hubUpgrade(w http.ResponseWriter, r *http.Request, hx hubUpgradeEnv) error {
	// Detection (10 s), the smoke test (15 s) and starting the helper
	// (30 s) can together outlast WriteTimeout.
	extendWriteDeadline(w, s.limits.LongWriteTimeout)
	var b api.HubUpgradeBody
	if apiE := decodeOptionalJSON(w, r, &b); apiE != nil {
		return apiE
	}
	if err := install.CheckChannel(b.Channel); err != nil {
		return apiErr(http.StatusBadRequest, api.CodeInvalidChannel, "%v", err)
	}
	ctx := r.Context()
	now := s.now()
	hubUpgradeMu.Lock()
	defer hubUpgradeMu.Unlock()
	path := selfupdate.StatusPath(s.paths)
	prev, err := selfupdate.ReadStatus(path)
	if err != nil {
		s.log.Warn("unreadable hub upgrade status; starting over", "err", err)
		prev = nil
	}
	if prev != nil {
		if prev.Reconcile(s.version, now) {
			_ = selfupdate.WriteStatus(path, prev)
		}
		if prev.InFlight(now) {
			writeErr(w, apiErr(http.StatusConflict, api.CodeUpgradeInFlight,
				"a hub upgrade is already %s (operation %s); poll GET /api/hub/upgrade/status", prev.Phase, prev.OperationID))
			return nil
		}
	}
	src, err := hx.detect(ctx)
	if err != nil {
		return apiErr(http.StatusInternalServerError, api.CodeDetectFailed, "%v", err)
	}
	id := newOpID()
	st := &selfupdate.Status{OperationID: id, CurrentVersion: s.version, From: b.From, Log: []string{},
		StartedAt: now.UTC(), UpdatedAt: now.UTC()}
	switch {
	case src.Kind == selfupdate.KindContainer:
		st.Mode, st.Log = selfupdate.PhaseRedeployRequired, []string{selfupdate.ErrRedeployRequired.Error()}
		st.Finish(selfupdate.PhaseRedeployRequired, nil, now)
		if err := selfupdate.WriteStatus(path, st); err != nil {
			return apiErr(http.StatusInternalServerError, api.CodeStatusWriteFailed, "%v", err)
		}
		writeJSON(w, http.StatusAccepted, api.HubUpgradeAccepted{OperationID: id, Mode: st.Mode, CurrentVersion: s.version})
		return nil
	case src.Packaged():
		return apiErr(http.StatusConflict, api.CodePackaged, "%v", &selfupdate.PackagedError{Source: src})
	case b.From == "":
		writeErr(w, apiErr(http.StatusBadRequest, api.CodeNoReleaseSource,
			`no release source is configured for the hub; send {"from": "/absolute/path/to/new/parachute"}`))
		return nil
	case !filepath.IsAbs(b.From):
		return apiErr(http.StatusBadRequest, api.CodeInvalidRequest, "from must be an absolute path, got %q", b.From)
	}
	mgr, apiE := s.upgradeManager(ctx, hx)
	if apiE != nil {
		return apiE
	}
	target, err := selfupdate.VersionOf(ctx, b.From)
	if err != nil {
		return apiErr(http.StatusBadRequest, api.CodeSmokeTestFailed, "%v", err)
	}
	st.Mode, st.Phase, st.TargetVersion = "in-place", selfupdate.PhasePending, &target
	st.Log = append(st.Log, fmt.Sprintf("accepted hub upgrade %s → %s from %s", s.version, target, b.From))
	if err := selfupdate.WriteStatus(path, st); err != nil {
		return apiErr(http.StatusInternalServerError, api.CodeStatusWriteFailed, "%v", err)
	}
	if err := s.spawnUpgradeHelper(ctx, hx, mgr.Kind(), id, b); err != nil {
		st.Log = append(st.Log, err.Error())
		st.Finish(selfupdate.PhaseFailed, err, s.now())
		_ = selfupdate.WriteStatus(path, st)
		return apiErr(http.StatusInternalServerError, api.CodeHelperFailed, "%v", err)
	}
	s.log.Info("hub upgrade started", "op", id, "from", s.version, "to", target)
	writeJSON(w, http.StatusAccepted, api.HubUpgradeAccepted{OperationID: id, Mode: st.Mode, CurrentVersion: s.version, TargetVersion: &target})
	return nil
}

// upgradeManager returns the service manager that runs this hub, or why an
// in-place upgrade cannot restart it.
func (s *Server) upgradeManager(ctx context.Context, hx hubUpgradeEnv) (servicemgr.Manager, *api.Error) {
	mgr, err := hx.manager()
	if err != nil {
		return nil, apiErr(http.StatusInternalServerError, api.CodeNoManager, "%v", err)
	}
	if mgr.Kind() == servicemgr.KindNone {
		return nil, apiErr(http.StatusConflict, api.CodeNoManager,
			"no service manager runs this hub, so it cannot restart itself; on the host run `parachute upgrade hub --from <binary>` and restart `parachute serve`")
	}
	ctl := &hubsvc.Controller{Paths: s.paths, Mgr: mgr}
	st, _ := ctl.State(ctx)
	if !st.Installed && st.LoadState != "loaded" {
		return nil, apiErr(http.StatusConflict, api.CodeNotManaged,
			"this hub is not run by %s (no %s unit), so it cannot restart itself; on the host run `parachute upgrade hub --from <binary>`", mgr.Kind(), ctl.UnitName())
	}
	return mgr, nil
}

// spawnUpgradeHelper runs `parachute upgrade hub --from ... --op <id>`
// outside this hub's unit, with the hub's environment minus what systemd
// gave the hub alone.
func (s *Server) spawnUpgradeHelper(ctx context.Context, hx hubUpgradeEnv, kind servicemgr.Kind, id string, b api.HubUpgradeBody) error {
	exe, err := hx.exe()
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
	env = append(env, "PARACHUTE_HOME="+s.paths.Root)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := hx.spawn(sctx, kind, selfupdate.HelperUnitName(id), argv, env); err != nil {
		return fmt.Errorf("starting the upgrade helper: %w", err)
	}
	return nil
}

// handleHubUpgradeStatus answers the status file, settled first: a
// restarting upgrade whose target is now running is written succeeded, and
// one with no progress for a while failed, so it never blocks the next.
func (s *Server) handleHubUpgradeStatus(w http.ResponseWriter, r *http.Request) error {
	hubUpgradeMu.Lock()
	defer hubUpgradeMu.Unlock()
	path := selfupdate.StatusPath(s.paths)
	st, err := selfupdate.ReadStatus(path)
	if err != nil {
		return apiErr(http.StatusInternalServerError, api.CodeStatusUnreadable, "%v", err)
	}
	if st == nil {
		return apiErr(http.StatusNotFound, api.CodeNotFound, "no hub upgrade has been started")
	}
	if st.Reconcile(s.version, s.now()) {
		if err := selfupdate.WriteStatus(path, st); err != nil && !errors.Is(err, os.ErrPermission) {
			s.log.Warn("could not settle the hub upgrade status", "err", err)
		}
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func newOpID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
