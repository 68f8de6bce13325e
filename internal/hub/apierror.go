package hub

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/openparachute/parachute/internal/api"
)

func apiErr(status int, code api.ErrorCode, format string, args ...any) *api.Error {
	return &api.Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// writeJSON writes v with the given status. API responses are never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
