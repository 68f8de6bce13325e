package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBootRecoversInterruptedUpgrade: a hub killed in the middle of an
// upgrade leaves the previous package at .<name>.parachute-prev, a partly
// written new one in its place and the install journal. The next hub puts
// the previous version back before it starts modules, says so, and the
// module runs. (internal/install kills real installers at every step; this
// checks that the hub's boot does the recovery.)
func TestBootRecoversInterruptedUpgrade(t *testing.T) {
	h := newHome(t, module{name: "recov", mode: []string{"serve"}})
	modules := filepath.Join(h.root, "modules")
	dir := filepath.Join(modules, "recov")
	prev := filepath.Join(modules, ".recov.parachute-prev")
	if err := os.Rename(dir, prev); err != nil {
		t.Fatal(err)
	}
	// The package manager had written package.json of 2.0.0 and nothing else.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(dir, "package.json"), map[string]any{"name": "recov", "version": "2.0.0"})
	journal := filepath.Join(h.root, ".install-journal.json")
	writeJSON(t, journal, map[string]any{"version": 1, "op": "upgrade", "module": "recov", "package": "recov",
		"root": modules, "dir": dir, "prev": prev, "step": "moved-aside"})

	h.start()
	waitFor(t, "recov active", 15*time.Second, func() bool {
		st, _ := h.status()
		m, ok := st.module("recov")
		return ok && m.State == "active"
	})
	if !strings.Contains(h.out.String(), "restored recov from .recov.parachute-prev after an interrupted upgrade") {
		t.Errorf("the hub did not say what it recovered:\n%s", h.out.String())
	}
	for _, p := range []string{journal, prev} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left after recovery: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".parachute", "module.json")); err != nil {
		t.Errorf("module.json not restored: %v", err)
	}
}
