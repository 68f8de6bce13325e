package hub

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/testenv"
)

// TestRouteTableCachesAndReloads: services.json is parsed once per version,
// a module installed a moment ago is routable on the next request, and a
// malformed rewrite keeps the last good table and is logged once.
func TestRouteTableCachesAndReloads(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	var loads atomic.Int32
	load := h.s.table.load
	h.s.table.load = func() (*manifest.File, []string) { loads.Add(1); return load() }
	var logs testenv.SyncBuffer
	h.s.table.log = slog.New(slog.NewTextHandler(&logs, nil))

	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(h.url(path))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	a, b := h.startHelperModule("alpha", nil), h.startHelperModule("beta", nil)
	h.writeRows(a)
	for range 3 {
		if c := get("/alpha/x"); c != 200 {
			t.Fatalf("/alpha/x = %d", c)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("services.json parsed %d times for 3 requests to one version, want 1", n)
	}

	h.writeRows(a, b) // install beta
	if c := get("/beta/x"); c != 200 {
		t.Fatalf("/beta/x right after install = %d, want 200", c)
	}

	if err := os.WriteFile(h.paths.ServicesJSON(), []byte(`{"services": [ {"name": "alp`), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if c := get("/beta/x"); c != 200 {
			t.Fatalf("/beta/x with a malformed services.json = %d, want the last good table", c)
		}
	}
	if n := strings.Count(logs.String(), "not valid JSON"); n != 1 {
		t.Errorf("malformed file logged %d times, want once:\n%s", n, logs.String())
	}

	h.writeRows(a) // fixed, beta uninstalled
	if c := get("/beta/x"); c != 404 {
		t.Errorf("/beta/x after uninstall = %d, want 404", c)
	}
	if c := get("/alpha/x"); c != 200 {
		t.Errorf("/alpha/x = %d", c)
	}
}
