package hub

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/api"
)

func TestDecodeOptionalJSON(t *testing.T) {
	big := `{"source":"` + strings.Repeat("a", maxJSONBody) + `"}`
	cases := []struct {
		name    string
		body    string
		ct      string
		chunked bool // send without Content-Length
		want    api.InstallBody
		status  int // 0 = accepted
	}{
		{name: "no body"},
		{name: "one object", body: `{"source":"/opt/x.tgz","port":1950}`, want: api.InstallBody{Source: "/opt/x.tgz", Port: 1950}},
		{name: "whitespace after", body: "{\"no_start\":true}\r\n\t ", want: api.InstallBody{NoStart: true}},
		{name: "chunked and empty", chunked: true},
		{name: "chunked object", body: `{"tag":"rc"}`, chunked: true, want: api.InstallBody{Tag: "rc"}},
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
		{name: "small object then oversize trailer", body: `{} ` + strings.Repeat(" ", maxJSONBody), chunked: true, status: 413},
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
			var got api.InstallBody
			apiE := decodeOptionalJSON(httptest.NewRecorder(), r, &got)
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

// TestTrailingJSONRejectedByRoute is issue 10: a body with a second JSON
// value used to be accepted with the second value silently dropped.
func TestTrailingJSONRejectedByRoute(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	req, _ := http.NewRequest(http.MethodPost, h.url("/api/modules/mod/uninstall"),
		strings.NewReader(`{"purge":false}{"purge":true}`))
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.Error
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Description, "trailing data") {
		t.Fatalf("got %d %+v, want 400 about trailing data", resp.StatusCode, e)
	}
	if n := h.s.ops.OperationCount(); n != 0 {
		t.Fatalf("%d operation(s) started, want none", n)
	}
}

// FuzzDecodeOptionalJSON: whatever the bytes, the decoder never panics,
// and it accepts a body only if the body is empty or exactly one JSON
// value within the size cap.
func FuzzDecodeOptionalJSON(f *testing.F) {
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
		var v api.UninstallBody
		if apiE := decodeOptionalJSON(httptest.NewRecorder(), r, &v); apiE != nil {
			if apiE.Status != 400 && apiE.Status != 413 {
				t.Fatalf("status %d for %q", apiE.Status, b)
			}
			return
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return
		}
		if !json.Valid(b) || len(b) > maxJSONBody {
			t.Fatalf("accepted %q", b)
		}
	})
}
