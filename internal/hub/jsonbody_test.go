package hub

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/api"
)

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
