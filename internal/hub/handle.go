package hub

import (
	"errors"
	"net/http"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
)

// apiHandler is a route of the hub API (caddy's AdminHandler is the
// model): it writes its success answer itself and returns every failure as
// an error, which handle writes. Return an *api.Error to choose the status
// and code; any other error is a 500 internal_error.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// handle adapts an apiHandler to net/http: the one place an API failure
// becomes a response.
func (s *Server) handle(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.handleError(w, r, err)
		}
	}
}

// handleError writes err as the API's JSON error body.
func (s *Server) handleError(w http.ResponseWriter, r *http.Request, err error) {
	if wb, ok := errors.AsType[*errorWithBody](err); ok {
		noteErrorCode(w, wb.Err.Code)
		api.WriteJSON(w, wb.Err.Status, wb.Body)
		return
	}
	ae, ok := errors.AsType[*api.Error](err)
	if !ok {
		s.log.Error("API handler failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = api.Errorf(http.StatusInternalServerError, api.CodeInternal, "%v", err)
	}
	writeErr(w, ae)
}

// errorWithBody is a failure whose answer is a richer body than the bare
// api.Error (the start routes answer a StateBody that embeds it).
type errorWithBody struct {
	Err  *api.Error
	Body any
}

func (e *errorWithBody) Error() string { return e.Err.Error() }
func (e *errorWithBody) Unwrap() error { return e.Err }

// writeErr writes an API error body, and tells the audit line its code.
func writeErr(w http.ResponseWriter, err *api.Error) {
	noteErrorCode(w, err.Code)
	if err.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	api.WriteJSON(w, err.Status, err)
}

// auditWriter records what the audit line of a mutating API request
// reports: the token's subject once authenticated, the status and the
// error code. It wraps the ResponseWriter of every non-GET/HEAD /api/
// request, and Unwrap keeps http.ResponseController (write deadlines,
// flushes) working through it.
type auditWriter struct {
	http.ResponseWriter
	status   int
	code     api.ErrorCode
	sub, jti string
}

func (a *auditWriter) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *auditWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (a *auditWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

func noteErrorCode(w http.ResponseWriter, code api.ErrorCode) {
	if a, ok := w.(*auditWriter); ok {
		a.code = code
	}
}

func noteClaims(w http.ResponseWriter, c *auth.Claims) {
	if a, ok := w.(*auditWriter); ok && c != nil {
		a.sub, a.jti = c.Subject, c.JTI
	}
}

// mutating reports whether a request may change something: everything but
// GET, HEAD and OPTIONS.
func mutating(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

// audit serves a mutating API request through an auditWriter and logs one
// line an operator can grep for ("msg=audit"): who (the token's sub and
// jti; empty when it never authenticated), what, and the outcome.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, next func(http.ResponseWriter, *http.Request)) {
	aw := &auditWriter{ResponseWriter: w}
	defer func() {
		status := aw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.log.Info("audit", "method", r.Method, "path", r.URL.Path, "sub", aw.sub, "jti", aw.jti,
			"status", status, "error", string(aw.code), "remote", r.RemoteAddr)
	}()
	next(aw, r)
}
