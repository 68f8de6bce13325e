package hub

import (
	"net/http"

	"github.com/openparachute/parachute/internal/api"
)

// writeJSON writes v with the given status (see api.WriteJSON).
func writeJSON(w http.ResponseWriter, status int, v any) { api.WriteJSON(w, status, v) }
