package hub

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"

	"github.com/openparachute/parachute/internal/api"
)

// maxJSONBody caps an API request body. The largest (an install request)
// is a few hundred bytes.
const maxJSONBody = 64 << 10

// decodeOptionalJSON is the one decoder of API request bodies. An absent
// or empty body leaves v untouched (every body is optional). Otherwise the
// body must be application/json, at most maxJSONBody bytes (else 413), and
// exactly one JSON value with no unknown members (a typo such as
// "no-start" is refused, not ignored) and nothing after it but whitespace:
// `{"purge":false}{"purge":true}` is an error, not a request whose second
// half is silently dropped.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) *api.Error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return apiErr(http.StatusUnsupportedMediaType, api.CodeInvalidRequest, "send the body as application/json (got %s)", ct)
		}
	}
	if r.ContentLength > maxJSONBody {
		return bodyTooLarge()
	}
	// MaxBytesReader (not a LimitReader) so an oversize chunked body is an
	// error rather than a silent truncation, and net/http closes the
	// connection instead of draining the rest.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // chunked and empty
		}
		return bodyError(err, "request body: %v")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err == nil {
			return apiErr(http.StatusBadRequest, api.CodeInvalidRequest, "request body: trailing data after the JSON value — send exactly one JSON object")
		}
		return bodyError(err, "request body: trailing data after the JSON value: %v")
	}
	return nil
}

// bodyError maps a decode error to 413 when the size cap was hit, 408
// when the body did not arrive before the read deadline, else 400.
func bodyError(err error, format string) *api.Error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return bodyTooLarge()
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return apiErr(http.StatusRequestTimeout, api.CodeRequestTimeout, "the request body did not arrive in time; send it in one go")
	}
	return apiErr(http.StatusBadRequest, api.CodeInvalidRequest, format, err)
}

func bodyTooLarge() *api.Error {
	return apiErr(http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge, "request body is larger than %d bytes", maxJSONBody)
}
