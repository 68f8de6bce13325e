package hub

import (
	"fmt"
	"net/http"

	"github.com/openparachute/parachute/internal/api"
)

func apiErr(status int, code api.ErrorCode, format string, args ...any) *api.Error {
	return &api.Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// writeJSON writes v with the given status (see api.WriteJSON).
func writeJSON(w http.ResponseWriter, status int, v any) { api.WriteJSON(w, status, v) }
