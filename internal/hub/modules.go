package hub

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/modops"
	"github.com/openparachute/parachute/internal/supervisor"
)

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request) error {
	return s.startOrRestart(w, r, false)
}

func (s *Server) handleRestart(w http.ResponseWriter, r *http.Request) error {
	return s.startOrRestart(w, r, true)
}

// startOrRestart asks the module-operations layer to start (or restart)
// the module and answers with an honest status: 200 only when the module
// is running and ready.
func (s *Server) startOrRestart(w http.ResponseWriter, r *http.Request, restart bool) error {
	extendWriteDeadline(w, s.limits.LongWriteTimeout) // answers after the module is ready
	short := r.PathValue("short")
	// Detached from the request: a client that hangs up mid-start must not
	// leave a module half-started. modops bounds it by OpTimeout.
	st, warns, err := s.ops.StartModule(context.WithoutCancel(r.Context()), short, restart)
	switch {
	case errors.Is(err, modops.ErrMountRefused):
		return api.Errorf(http.StatusConflict, api.CodeMountRefused, "%v", err)
	case errors.Is(err, modops.ErrNotInstalled):
		return api.Errorf(http.StatusBadRequest, api.CodeNotInstalled, "%v", err)
	case errors.Is(err, modops.ErrNoStartCmd):
		return api.Errorf(http.StatusUnprocessableEntity, api.CodeNoStartCmd, "%v", err)
	case errors.Is(err, modops.ErrInvalidModule):
		return api.Errorf(http.StatusUnprocessableEntity, api.CodeInvalidModule, "%v", err)
	}
	as := apiState(st)
	body := api.StateBody{Short: short, State: &as, Warnings: warns}
	if err != nil {
		status, code := startFailure(err)
		body.Error = api.Errorf(status, code, "%s", modops.DescribeStartFailure(short, st, err))
		return &errorWithBody{Err: body.Error, Body: body}
	}
	api.WriteJSON(w, http.StatusOK, body)
	return nil
}

// startFailure maps a supervisor error to an HTTP status and error code.
func startFailure(err error) (int, api.ErrorCode) {
	switch {
	case errors.Is(err, supervisor.ErrMissingDependency):
		return http.StatusFailedDependency, api.CodeMissingDependency
	case errors.Is(err, supervisor.ErrNotReady):
		return http.StatusGatewayTimeout, api.CodeNotReady
	case errors.Is(err, supervisor.ErrExitedDuringStart):
		return http.StatusBadGateway, api.CodeExitedDuringStart
	case errors.Is(err, supervisor.ErrShuttingDown):
		return http.StatusServiceUnavailable, api.CodeShuttingDown
	}
	return http.StatusInternalServerError, api.CodeStartFailed
}

func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) error {
	extendWriteDeadline(w, s.limits.LongWriteTimeout) // answers after the module has stopped
	short := r.PathValue("short")
	st, supervised, err := s.ops.StopModule(context.WithoutCancel(r.Context()), short)
	if err != nil {
		return api.Errorf(http.StatusInternalServerError, api.CodeStopFailed, "stopping %s: %v", short, err)
	}
	stopped := supervised
	body := api.StateBody{Short: short, Stopped: &stopped}
	if supervised {
		as := apiState(st)
		body.State = &as
	}
	api.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) error {
	short := r.PathValue("short")
	n := 200
	if v := r.URL.Query().Get("lines"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x < 0 {
			return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "lines must be a non-negative integer, got %q", v)
		}
		n = x
	}
	follow := r.URL.Query().Get("follow")
	if follow == "1" || follow == "true" {
		w, done := s.streamDeadlines(w, r)
		defer done()
		s.followLogs(w, r, short, n)
		return nil
	}
	lines, ok := s.sup.Logs(short, n)
	if n == 0 {
		lines = nil // lines=0 asks for none (Logs treats 0 as "all")
	}
	if !ok {
		writeErr(w, api.Errorf(http.StatusNotFound, api.CodeNotSupervised,
			"%s is not currently supervised — install or start it first (older output is in %s)", short, s.paths.ModuleLog(short)))
		return nil
	}
	if lines == nil {
		lines = []string{}
	}
	api.WriteJSON(w, http.StatusOK, api.LogsResponse{Short: short, Lines: lines, Text: strings.Join(lines, "")})
	return nil
}

// followLogs streams the backlog, then live lines, until the client goes
// away or the hub shuts down.
func (s *Server) followLogs(w http.ResponseWriter, r *http.Request, short string, backlog int) {
	lines, ch, ok := s.sup.Follow(r.Context(), short, backlog)
	if !ok {
		writeErr(w, api.Errorf(http.StatusNotFound, api.CodeNotSupervised, "%s is not currently supervised — install or start it first", short))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for _, l := range lines {
		if _, err := w.Write([]byte(l)); err != nil {
			return
		}
	}
	_ = rc.Flush()
	for l := range ch {
		if _, err := w.Write([]byte(l)); err != nil {
			return
		}
		// Batch whatever else is queued before flushing.
		for more := true; more; {
			select {
			case l2, open := <-ch:
				if !open {
					more = false
					break
				}
				if _, err := w.Write([]byte(l2)); err != nil {
					return
				}
			default:
				more = false
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func (s *Server) handleOperation(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	op, ok := s.ops.Operation(id)
	if !ok {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "no operation with id %s", id)
	}
	api.WriteJSON(w, http.StatusOK, op)
	return nil
}
