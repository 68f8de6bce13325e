package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
)

// MaxJSONBody caps an API request body. The largest (an install request,
// a user with its vaults) is a few hundred bytes.
const MaxJSONBody = 64 << 10

// DecodeJSON is the one decoder of API request bodies, shared by the hub's
// router and the domain packages whose handlers it mounts. An absent or
// empty body leaves v untouched (every body is optional; the handler says
// which members it needs). Otherwise the body must be application/json, at
// most MaxJSONBody bytes (else 413), and exactly one JSON value with no
// unknown members (a typo such as "no-start" is refused, not ignored) and
// nothing after it but whitespace: `{"purge":false}{"purge":true}` is an
// error, not a request whose second half is silently dropped.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) *Error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return Errorf(http.StatusUnsupportedMediaType, CodeInvalidRequest, "send the body as application/json (got %s)", ct)
		}
	}
	if r.ContentLength > MaxJSONBody {
		return bodyTooLarge()
	}
	// MaxBytesReader (not a LimitReader) so an oversize chunked body is an
	// error rather than a silent truncation, and net/http closes the
	// connection instead of draining the rest.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // chunked and empty
		}
		return BodyError(err, "request body: %v")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err == nil {
			return Errorf(http.StatusBadRequest, CodeInvalidRequest, "request body: trailing data after the JSON value — send exactly one JSON object")
		}
		return BodyError(err, "request body: trailing data after the JSON value: %v")
	}
	return nil
}

// BodyError maps a decode error to 413 when the size cap was hit, 408
// when the body did not arrive before the read deadline, else 400.
func BodyError(err error, format string) *Error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return bodyTooLarge()
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return Errorf(http.StatusRequestTimeout, CodeRequestTimeout, "the request body did not arrive in time; send it in one go")
	}
	return Errorf(http.StatusBadRequest, CodeInvalidRequest, format, err)
}

func bodyTooLarge() *Error {
	return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body is larger than %d bytes", MaxJSONBody)
}

// WriteJSON writes v with the given status. API responses are never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
