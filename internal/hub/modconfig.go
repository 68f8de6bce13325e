package hub

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/modconfig"
	"github.com/openparachute/parachute/internal/modops"
	"github.com/openparachute/parachute/internal/supervisor"
)

// The module config API: GET /api/modules/<short>/config/schema serves the
// module's configSchema, GET …/config its current values (secrets
// removed), PUT …/config validates a partial update, writes it to the
// module's config.json and restarts the module if it runs. All three need
// parachute:host:admin, as in the reference (config holds API keys).
// Browser sessions are not accepted on /api/ (bearer only), and
// checkAPIRequest has already refused cross-site requests.

// handleModuleConfig serves GET and PUT /api/modules/<short>/config; the
// method is checked before the token, as on every API route.
func (s *Server) handleModuleConfig(w http.ResponseWriter, r *http.Request) {
	s.getPut(s.admin(s.getModuleConfig), s.admin(s.putModuleConfig))(w, r)
}

// handleModuleConfigSchema serves GET /api/modules/<short>/config/schema.
func (s *Server) handleModuleConfigSchema(w http.ResponseWriter, r *http.Request) {
	s.method(http.MethodGet, s.admin(func(w http.ResponseWriter, r *http.Request) error {
		_, sch, err := s.moduleSchema(r.PathValue("short"))
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(sch.Raw) // verbatim, as module.json has it
		return nil
	}))(w, r)
}

func (s *Server) getModuleConfig(w http.ResponseWriter, r *http.Request) error {
	short, sch, err := s.moduleSchema(r.PathValue("short"))
	if err != nil {
		return err
	}
	cur, err := s.modcfg.Get(short, sch)
	if err != nil {
		return configErr(err)
	}
	api.WriteJSON(w, http.StatusOK, cur)
	return nil
}

func (s *Server) putModuleConfig(w http.ResponseWriter, r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return api.Errorf(http.StatusUnsupportedMediaType, api.CodeInvalidRequest, "send the body as application/json (got %s)", ct)
		}
	}
	if r.ContentLength > modconfig.MaxBodyBytes {
		return configBodyTooLarge()
	}
	// The module is looked up before the body is read: an unknown module
	// or one without a schema answers 404 whatever was sent.
	short, sch, err := s.moduleSchema(r.PathValue("short"))
	if err != nil {
		return err
	}
	// MaxBytesReader, not a LimitReader: an oversize chunked body is an
	// error (413) rather than silently truncated JSON.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, modconfig.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return configBodyTooLarge()
		}
		return api.BodyError(err, "request body: %v")
	}
	view, err := s.modcfg.Put(short, sch, body)
	if err != nil {
		return configErr(err)
	}
	res := api.ModuleConfigPut{Short: short, Config: view, File: s.modcfg.Path(short)}
	st, ok := s.sup.Get(short)
	if !ok || (st.Status != supervisor.StatusRunning && st.Status != supervisor.StatusStarting) {
		// Not running: it reads the file when next started. A module in
		// backoff also reads it on its next spawn.
		api.WriteJSON(w, http.StatusOK, res)
		return nil
	}
	extendWriteDeadline(w, s.limits.LongWriteTimeout) // answers after the module is ready again
	// Detached from the request, like POST …/restart: a client that hangs
	// up must not leave the module half-restarted.
	nst, warns, err := s.ops.StartModule(context.WithoutCancel(r.Context()), short, true)
	for _, wn := range warns {
		s.log.Warn(wn, "module", short)
	}
	if err != nil {
		e := api.Errorf(http.StatusBadGateway, api.CodeStartFailed,
			"the config was saved to %s, but %s did not come back after the restart: %s; check `parachute logs %s`, fix the config and PUT it again",
			res.File, short, modops.DescribeStartFailure(short, nst, err), short)
		e.Detail = res
		return e
	}
	res.Restarted, res.PID = true, nst.PID
	s.log.Info("module config changed; module restarted", "module", short, "pid", nst.PID)
	api.WriteJSON(w, http.StatusOK, res)
	return nil
}

// moduleSchema finds short's services.json row and its compiled
// configSchema, mapping each reason there is none to its answer.
func (s *Server) moduleSchema(short string) (string, *modconfig.Schema, error) {
	if !validShort(short) {
		return "", nil, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no module named %q", short)
	}
	row, err := s.ops.FindRow(short)
	switch {
	case errors.Is(err, modops.ErrNotInstalled):
		return "", nil, api.Errorf(http.StatusNotFound, api.CodeNotInstalled, "%v", err)
	case errors.Is(err, modops.ErrMountRefused):
		return "", nil, api.Errorf(http.StatusConflict, api.CodeMountRefused, "%v", err)
	case err != nil:
		return "", nil, err
	}
	sch, err := s.modcfg.Schema(short, row.InstallDir)
	if err != nil {
		return "", nil, configErr(err)
	}
	return short, sch, nil
}

// configErr maps modconfig's errors to the API's.
func configErr(err error) error {
	if errors.Is(err, modconfig.ErrNoSchema) {
		return api.Errorf(http.StatusNotFound, api.CodeNoConfigSchema,
			"%v; this module has no operator-editable config (its module.json declares no configSchema)", err)
	}
	if se, ok := errors.AsType[*modconfig.SchemaError](err); ok {
		return api.Errorf(http.StatusUnprocessableEntity, api.CodeInvalidConfigSchema,
			"%v; upgrade the module or ask its author to fix module.json", se)
	}
	if ie, ok := errors.AsType[*modconfig.InputError](err); ok {
		if ie.TooLarge {
			return configBodyTooLarge()
		}
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "%s", ie.Msg)
	}
	if ve, ok := errors.AsType[*modconfig.ValidationError](err); ok {
		e := api.Errorf(http.StatusBadRequest, api.CodeInvalidConfig, "%v; nothing was written", ve)
		for _, f := range ve.Failures {
			e.Errors = append(e.Errors, api.ConfigFieldError{Path: f.Path, InstancePath: f.InstancePath, SchemaPath: f.SchemaPath, Message: f.Message})
		}
		return e
	}
	if errors.Is(err, modconfig.ErrFileInvalid) {
		return api.Errorf(http.StatusConflict, api.CodeConfigFileInvalid, "%v", err)
	}
	return err
}

func configBodyTooLarge() *api.Error {
	return api.Errorf(http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge, "request body is larger than %d bytes; a module config is a small JSON object", modconfig.MaxBodyBytes)
}
