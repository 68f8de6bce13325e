package hub

import (
	"net/http"
	"os"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/supervisor"
)

// bootWindow: a module running for less than this is "transient" in
// /api/ready even when its probe has not passed yet.
const bootWindow = 30 * time.Second

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if s.auth.Load() == nil {
		// Listening, but hub.db and the operator token are not ready yet:
		// a client that saw 200 must be able to use the API at once.
		w.Header().Set("Retry-After", "1")
		api.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "starting", "service": "parachute-hub", "version": s.version})
		return
	}
	now := s.now()
	api.WriteJSON(w, http.StatusOK, api.HealthResponse{Status: "ok", Service: "parachute-hub", Version: s.version,
		PID: os.Getpid(), StartedAt: s.started.UTC().Format(time.RFC3339Nano), UptimeS: int64(now.Sub(s.started) / time.Second)})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeErr(w, api.Errorf(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "use GET"))
		return
	}
	ready, transient, persistent := []string{}, []string{}, []string{}
	now := s.now()
	for _, st := range s.sup.List() {
		switch st.Status {
		case supervisor.StatusStarting, supervisor.StatusRestarting:
			transient = append(transient, st.Short)
		case supervisor.StatusCrashed, supervisor.StatusStopped:
			persistent = append(persistent, st.Short)
		case supervisor.StatusRunning:
			switch {
			case st.Ready:
				ready = append(ready, st.Short)
			case st.StartedAt != nil && now.Sub(*st.StartedAt) < bootWindow:
				transient = append(transient, st.Short)
			default:
				persistent = append(persistent, st.Short)
			}
		}
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{
		"ready":              len(transient) == 0 && len(persistent) == 0,
		"ready_modules":      ready,
		"transient_modules":  transient,
		"persistent_modules": persistent,
	})
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	store := s.auth.Load()
	if store == nil {
		w.Header().Set("Retry-After", "1")
		writeErr(w, api.Errorf(http.StatusServiceUnavailable, api.CodeStarting, "the hub is still loading its signing keys"))
		return
	}
	jwks, err := store.JWKS(r.Context())
	if err != nil {
		writeErr(w, api.Errorf(http.StatusInternalServerError, api.CodeJWKSFailed, "reading signing keys: %v", err))
		return
	}
	api.WriteJSON(w, http.StatusOK, jwks)
}

func (s *Server) handleHub(w http.ResponseWriter, r *http.Request) error {
	now := s.now()
	api.WriteJSON(w, http.StatusOK, map[string]any{
		"version":    s.version,
		"started_at": s.started.UTC().Format(time.RFC3339Nano),
		"uptime_ms":  now.Sub(s.started).Milliseconds(),
		"source":     s.source,
		"pid":        os.Getpid(),
		"root":       s.paths.Root,
		"issuer":     s.origins.Issuer(),
	})
	return nil
}
