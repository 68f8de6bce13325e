package hub

import (
	"net/http"

	"github.com/openparachute/parachute/internal/api"
)

// maxJSONBody caps an API request body (see api.MaxJSONBody).
const maxJSONBody = api.MaxJSONBody

// decodeOptionalJSON decodes an optional JSON request body with
// api.DecodeJSON, the one decoder of API bodies (its doc has the rules).
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) *api.Error {
	return api.DecodeJSON(w, r, v)
}
