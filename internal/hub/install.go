package hub

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/supervisor"
)

// installOpTimeout bounds one install, upgrade or uninstall: a registry
// download plus a module's readiness window, twice over for a rollback.
const installOpTimeout = 15 * time.Minute

// hubRuntime lets the installer start and stop modules through this hub's
// supervisor, rebuilding the spawn request from disk like the start route.
type hubRuntime struct{ s *Server }

// Start implements install.Runtime: restart when supervised, else start,
// and report the supervisor's reason when the module is not ready.
func (rt hubRuntime) Start(ctx context.Context, short string) error {
	s := rt.s
	l := s.moduleLock(short)
	l.Lock()
	defer l.Unlock()
	row, refused, ok := s.findRow(short)
	if refused != nil {
		return fmt.Errorf("%s is installed but %w", short, refused)
	}
	if !ok {
		return fmt.Errorf("%s has no services.json entry", short)
	}
	spec, warns, err := s.buildSpec(row)
	for _, w := range warns {
		s.log.Warn(w)
	}
	if err != nil {
		return err
	}
	var st supervisor.State
	if _, supervised := s.sup.Get(short); supervised {
		st, err = s.sup.Restart(ctx, spec)
	} else {
		st, err = s.sup.Start(ctx, spec)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", describeStartFailure(short, st, err), err)
	}
	return nil
}

// Stop implements install.Runtime.
func (rt hubRuntime) Stop(ctx context.Context, short string) error {
	l := rt.s.moduleLock(short)
	l.Lock()
	defer l.Unlock()
	_, _, err := rt.s.sup.Stop(ctx, short)
	return err
}

func (s *Server) handleInstall(w http.ResponseWriter, r *http.Request) error {
	short := r.PathValue("short")
	var b api.InstallBody
	if apiE := decodeOptionalJSON(w, r, &b); apiE != nil {
		return apiE
	}
	if apiE := checkOpSource(b.Channel, b.Source); apiE != nil {
		return apiE
	}
	src := b.Source
	if src == "" {
		src = short
	}
	s.startInstallOp(w, "install", short, func(ctx context.Context, in *install.Installer, logf func(string)) error {
		res, err := in.Install(ctx, install.Request{Source: src, Channel: b.Channel, Tag: b.Tag, Port: b.Port,
			NoStart: b.NoStart, AllowDowngrade: b.AllowDowngrade})
		if res != nil && err == nil {
			logf(res.Summary())
		}
		return err
	})
	return nil
}

func (s *Server) handleUpgrade(w http.ResponseWriter, r *http.Request) error {
	short := r.PathValue("short")
	var b api.UpgradeBody
	if apiE := decodeOptionalJSON(w, r, &b); apiE != nil {
		return apiE
	}
	if apiE := checkOpSource(b.Channel, b.From); apiE != nil {
		return apiE
	}
	s.startInstallOp(w, "upgrade", short, func(ctx context.Context, in *install.Installer, logf func(string)) error {
		res, err := in.Upgrade(ctx, install.UpgradeRequest{Short: short, From: b.From, Channel: b.Channel, Tag: b.Tag,
			AllowDowngrade: b.AllowDowngrade, DryRun: b.DryRun})
		if res != nil && err == nil {
			logf(res.Summary())
		}
		return err
	})
	return nil
}

func (s *Server) handleUninstall(w http.ResponseWriter, r *http.Request) error {
	short := r.PathValue("short")
	var b api.UninstallBody
	if apiE := decodeOptionalJSON(w, r, &b); apiE != nil {
		return apiE
	}
	s.startInstallOp(w, "uninstall", short, func(ctx context.Context, in *install.Installer, logf func(string)) error {
		res, err := in.Uninstall(ctx, install.UninstallRequest{Short: short, Purge: b.Purge})
		if err == nil {
			logf(fmt.Sprintf("✓ %s uninstalled", res.Short))
		}
		return err
	})
	return nil
}

// startInstallOp answers 202 with an operation id and runs fn in the
// background with an Installer whose progress lines go to the operation's
// log and whose Runtime is this hub's supervisor.
func (s *Server) startInstallOp(w http.ResponseWriter, kind, short string,
	fn func(ctx context.Context, in *install.Installer, logf func(string)) error) {
	id := s.ops.create(kind, short)
	logf := func(line string) {
		s.ops.update(id, func(op *api.Operation) { op.Log = append(op.Log, line) })
	}
	in := install.New(install.Options{Paths: s.paths, Runtime: hubRuntime{s}, Reporter: &install.Lines{OnLine: logf}})
	go func() {
		// Detached from the request: a client that hangs up must not leave
		// a half-installed module behind.
		ctx, cancel := context.WithTimeout(context.Background(), installOpTimeout)
		defer cancel()
		s.ops.update(id, func(op *api.Operation) { op.Status = api.OpRunning })
		err := fn(ctx, in, logf)
		s.ops.update(id, func(op *api.Operation) {
			if err == nil {
				op.Status = api.OpSucceeded
				return
			}
			op.Status, op.Error = api.OpFailed, err.Error()
			op.ErrorDetail = &api.ErrorDetail{ErrorType: install.ErrorType(err)}
		})
		if err != nil {
			s.log.Warn("module operation failed", "op", kind, "module", short, "err", err)
		} else {
			s.log.Info("module operation succeeded", "op", kind, "module", short)
		}
	}()
	writeJSON(w, http.StatusAccepted, map[string]string{"operation_id": id})
}

// checkOpSource validates a channel and a path source: the hub's working
// directory means nothing to a client, so paths must be absolute.
func checkOpSource(channel, source string) *api.Error {
	if err := install.CheckChannel(channel); err != nil {
		return apiErr(http.StatusBadRequest, api.CodeInvalidChannel, "%v", err)
	}
	if (strings.HasPrefix(source, ".") || strings.Contains(source, string(filepath.Separator))) &&
		!strings.HasPrefix(source, "@") && !filepath.IsAbs(source) {
		return apiErr(http.StatusBadRequest, api.CodeInvalidRequest, "source path %q must be absolute", source)
	}
	return nil
}
