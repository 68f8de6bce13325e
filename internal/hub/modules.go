package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/supervisor"
)

// opTimeout bounds a synchronous start/stop/restart. It is detached from
// the request: a client that hangs up mid-start must not leave a module
// half-started.
const opTimeout = 2 * time.Minute

// findRow looks up the services.json row for short among the rows the
// mount rules accept (lenient read: one bad row must not take every
// module's API down). When short is registered but every row of it is
// refused, refused says why and ok is false.
func (s *Server) findRow(short string) (row manifest.Service, refused error, ok bool) {
	f, refusals, warns := s.routable()
	for _, w := range warns {
		s.log.Warn("services.json", "warning", w)
	}
	if row, ok := f.Find(short); ok {
		return row, nil, true
	}
	for _, r := range refusals {
		if manifest.ShortName(r.Name) == short || r.Name == short {
			return manifest.Service{}, errors.New(refusalAdvice(r)), false
		}
	}
	return manifest.Service{}, nil, false
}

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request) error {
	return s.startOrRestart(w, r, false)
}

func (s *Server) handleRestart(w http.ResponseWriter, r *http.Request) error {
	return s.startOrRestart(w, r, true)
}

// startOrRestart rebuilds the spawn request from disk and starts (or
// restarts) the module, answering with an honest status: 200 only when the
// module is running and ready.
func (s *Server) startOrRestart(w http.ResponseWriter, r *http.Request, restart bool) error {
	extendWriteDeadline(w, s.limits.LongWriteTimeout) // answers after the module is ready
	short := r.PathValue("short")
	l := s.moduleLock(short)
	l.Lock()
	defer l.Unlock()

	row, refused, ok := s.findRow(short)
	if refused != nil {
		return apiErr(http.StatusConflict, api.CodeMountRefused, "%s is installed but %v", short, refused)
	}
	if !ok {
		writeErr(w, apiErr(http.StatusBadRequest, api.CodeNotInstalled,
			"%s is not installed (no services.json entry) — run `parachute install %s` first", short, short))
		return nil
	}
	spec, warns, err := s.buildSpec(row)
	if err != nil {
		code := api.CodeInvalidModule
		if errors.Is(err, ErrNoStartCmd) {
			code = api.CodeNoStartCmd
		}
		return apiErr(http.StatusUnprocessableEntity, code, "%s", err.Error())
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), opTimeout)
	defer cancel()
	var st supervisor.State
	if _, supervised := s.sup.Get(short); restart && supervised {
		st, err = s.sup.Restart(ctx, spec)
	} else {
		st, err = s.sup.Start(ctx, spec)
	}
	as := apiState(st)
	body := api.StateBody{Short: short, State: &as, Warnings: warns}
	if err != nil {
		status, code := startFailure(err)
		body.Error = apiErr(status, code, "%s", describeStartFailure(short, st, err))
		return &errorWithBody{Err: body.Error, Body: body}
	}
	writeJSON(w, http.StatusOK, body)
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

func describeStartFailure(short string, st supervisor.State, err error) string {
	if st.StartError != nil && st.StartError.Description != "" {
		return st.StartError.Description
	}
	return fmt.Sprintf("%s did not start: %v", short, err)
}

func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) error {
	extendWriteDeadline(w, s.limits.LongWriteTimeout) // answers after the module has stopped
	short := r.PathValue("short")
	l := s.moduleLock(short)
	l.Lock()
	defer l.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), opTimeout)
	defer cancel()
	st, supervised, err := s.sup.Stop(ctx, short)
	if err != nil {
		return apiErr(http.StatusInternalServerError, api.CodeStopFailed, "stopping %s: %v", short, err)
	}
	stopped := supervised
	body := api.StateBody{Short: short, Stopped: &stopped}
	if supervised {
		as := apiState(st)
		body.State = &as
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) error {
	short := r.PathValue("short")
	n := 200
	if v := r.URL.Query().Get("lines"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x < 0 {
			return apiErr(http.StatusBadRequest, api.CodeInvalidRequest, "lines must be a non-negative integer, got %q", v)
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
		writeErr(w, apiErr(http.StatusNotFound, api.CodeNotSupervised,
			"%s is not currently supervised — install or start it first (older output is in %s)", short, s.paths.ModuleLog(short)))
		return nil
	}
	if lines == nil {
		lines = []string{}
	}
	writeJSON(w, http.StatusOK, api.LogsResponse{Short: short, Lines: lines, Text: strings.Join(lines, "")})
	return nil
}

// followLogs streams the backlog, then live lines, until the client goes
// away or the hub shuts down.
func (s *Server) followLogs(w http.ResponseWriter, r *http.Request, short string, backlog int) {
	lines, ch, ok := s.sup.Follow(r.Context(), short, backlog)
	if !ok {
		writeErr(w, apiErr(http.StatusNotFound, api.CodeNotSupervised, "%s is not currently supervised — install or start it first", short))
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
	op, ok := s.ops.get(id)
	if !ok {
		return apiErr(http.StatusNotFound, api.CodeNotFound, "no operation with id %s", id)
	}
	writeJSON(w, http.StatusOK, op)
	return nil
}
