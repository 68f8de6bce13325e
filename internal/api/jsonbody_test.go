package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeJSON(t *testing.T) {
	big := `{"source":"` + strings.Repeat("a", MaxJSONBody) + `"}`
	cases := []struct {
		name    string
		body    string
		ct      string
		chunked bool // send without Content-Length
		want    InstallBody
		status  int // 0 = accepted
	}{
		{name: "no body"},
		{name: "one object", body: `{"source":"/opt/x.tgz","port":1950}`, want: InstallBody{Source: "/opt/x.tgz", Port: 1950}},
		{name: "whitespace after", body: "{\"no_start\":true}\r\n\t ", want: InstallBody{NoStart: true}},
		{name: "chunked and empty", chunked: true},
		{name: "chunked object", body: `{"tag":"rc"}`, chunked: true, want: InstallBody{Tag: "rc"}},
		{name: "second object", body: `{"no_start":false}{"no_start":true}`, status: 400},
		{name: "trailing garbage", body: `{"tag":"rc"} x`, status: 400},
		{name: "trailing brace", body: `{"tag":"rc"}}`, status: 400},
		{name: "trailing null", body: `{"tag":"rc"} null`, status: 400},
		{name: "trailing garbage chunked", body: `{"tag":"rc"}garbage`, chunked: true, status: 400},
		{name: "unknown member", body: `{"no-start":true}`, status: 400},
		{name: "wrong type", body: `{"port":"1950"}`, status: 400},
		{name: "truncated", body: `{"tag":`, status: 400},
		{name: "not json content type", body: `{}`, ct: "text/plain", status: 415},
		{name: "oversize with length", body: big, status: 413},
		{name: "oversize chunked", body: big, chunked: true, status: 413},
		{name: "small object then oversize trailer", body: `{} ` + strings.Repeat(" ", MaxJSONBody), chunked: true, status: 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader = http.NoBody
			if c.body != "" || c.chunked {
				body = strings.NewReader(c.body)
			}
			r := httptest.NewRequest(http.MethodPost, "/api/modules/x/install", body)
			if c.chunked {
				r.ContentLength = -1
				r.Body = io.NopCloser(strings.NewReader(c.body)) // no length known up front
			}
			if c.ct != "" {
				r.Header.Set("Content-Type", c.ct)
			}
			var got InstallBody
			apiE := DecodeJSON(httptest.NewRecorder(), r, &got)
			status := 0
			if apiE != nil {
				status = apiE.Status
			}
			if status != c.status {
				t.Fatalf("status %d (%v), want %d", status, apiE, c.status)
			}
			if c.status == 0 {
				if d := cmp.Diff(c.want, got); d != "" {
					t.Fatalf("decoded body (-want +got):\n%s", d)
				}
			}
		})
	}
}

// FuzzDecodeJSON: whatever the bytes, the decoder never panics,
// and it accepts a body only if the body is empty or exactly one JSON
// value within the size cap.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{``, `{}`, ` {"purge":true} `, `{"purge":true}{"purge":false}`, `{"purge":true}x`,
		`{"purge":1}`, `[]`, `null`, `"s"`, `{"purge":true}}`, "{\"purge\":true}\n\n", `{"purge":true,"purge":false}`,
		"\xef\xbb\xbf{}", `{"a":` + strings.Repeat("[", 2000)} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, chunked bool) {
		r := httptest.NewRequest(http.MethodPost, "/api/modules/x/uninstall", bytes.NewReader(b))
		if chunked {
			r.ContentLength = -1
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		var v UninstallBody
		if apiE := DecodeJSON(httptest.NewRecorder(), r, &v); apiE != nil {
			if apiE.Status != 400 && apiE.Status != 413 {
				t.Fatalf("status %d for %q", apiE.Status, b)
			}
			return
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return
		}
		if !json.Valid(b) || len(b) > MaxJSONBody {
			t.Fatalf("accepted %q", b)
		}
	})
}
