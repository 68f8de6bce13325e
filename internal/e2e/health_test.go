package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// healthRow is the part of a `status --json` module row these tests read.
type healthRow struct {
	Name         string  `json:"name"`
	State        string  `json:"state"`
	Status       *string `json:"status"`
	HealthStatus int     `json:"health_status"`
	Health       *struct {
		OK         bool `json:"ok"`
		StatusCode int  `json:"status_code"`
	} `json:"health"`
	Notes []string `json:"notes"`
}

// probedRow runs `status --json` until the module's health has been probed
// on a ready process (its row left pending), and returns that row and the
// exit code.
func probedRow(t *testing.T, h *hubEnv, name string) (healthRow, int) {
	t.Helper()
	var row healthRow
	var code int
	waitFor(t, name+" probed", 15*time.Second, func() bool {
		var out, errOut string
		out, errOut, code = h.run("status", "--json")
		var doc struct {
			Modules []healthRow `json:"modules"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("status --json: %v\nstdout: %s\nstderr: %s", err, out, errOut)
		}
		for _, m := range doc.Modules {
			if m.Name == name {
				row = m
				return m.Health != nil && m.State != "pending"
			}
		}
		return false
	})
	return row, code
}

// A module whose health path answers 401 (the vault without a key) is up:
// status shows it active with the code and exits 0.
func TestStatusHealth401IsActive(t *testing.T) {
	h := newHome(t, module{name: "locked", mode: []string{"serve-health", "401"}})
	h.start()
	row, code := probedRow(t, h, "locked")
	if row.State != "active" || code != 0 {
		t.Fatalf("locked: state %q, status exit %d; want active and 0 (row %+v)", row.State, code, row)
	}
	if row.HealthStatus != 401 || !row.Health.OK || row.Health.StatusCode != 401 {
		t.Fatalf("locked: health_status %d, health %+v; want 401 and ok", row.HealthStatus, *row.Health)
	}
	out, _, code := h.run("status")
	if code != 0 || !tableRowHas(out, "locked", "active (401)") {
		t.Fatalf("status exit %d, want 0 and the locked row showing \"active (401)\":\n%s", code, out)
	}
}

// A 404 on the declared health path most likely means the path is wrong:
// the row is failing, shows the code and says what to check.
func TestStatusHealth404IsFailing(t *testing.T) {
	h := newHome(t, module{name: "lost", mode: []string{"serve-health", "404"}})
	h.start()
	row, code := probedRow(t, h, "lost")
	if row.State != "failing" || code != 1 || row.HealthStatus != 404 {
		t.Fatalf("lost: state %q, health_status %d, status exit %d; want failing, 404, 1 (row %+v)",
			row.State, row.HealthStatus, code, row)
	}
	out, _, code := h.run("status")
	if code != 1 || !tableRowHas(out, "lost", "failing (404)") || !strings.Contains(out, "check `health` for lost in services.json") {
		t.Fatalf("status exit %d, want 1, the lost row showing \"failing (404)\" and a hint:\n%s", code, out)
	}
}

// tableRowHas reports whether the status table row for name contains cell.
func tableRowHas(table, name, cell string) bool {
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return strings.Contains(l, cell)
		}
	}
	return false
}
