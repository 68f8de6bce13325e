package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/modops"
	"github.com/openparachute/parachute/internal/selfupdate"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// fakeManager is a service manager whose hub unit is installed (or not).
type fakeManager struct {
	kind      servicemgr.Kind
	installed bool
}

func (m fakeManager) Kind() servicemgr.Kind { return m.kind }
func (m fakeManager) Install(context.Context, servicemgr.Unit, bool) ([]string, error) {
	return nil, nil
}
func (m fakeManager) Uninstall(context.Context, string, string) (bool, error) { return false, nil }
func (m fakeManager) Start(context.Context, string) error                     { return nil }
func (m fakeManager) Stop(context.Context, string) error                      { return nil }
func (m fakeManager) Restart(context.Context, string) error                   { return nil }
func (m fakeManager) JournalTail(context.Context, string, int) ([]string, error) {
	return nil, nil
}
func (m fakeManager) State(_ context.Context, _, path string) (servicemgr.State, error) {
	return servicemgr.State{Kind: m.kind, Path: path, Installed: m.installed}, nil
}

// upgradeFixture is a hub with fake host answers for the upgrade handler.
type upgradeFixture struct {
	t      *testing.T
	s      *Server
	now    time.Time
	hx     modops.UpgradeHost
	src    selfupdate.Source
	mgr    fakeManager
	spawns [][]string
}

func newUpgradeFixture(t *testing.T) *upgradeFixture {
	f := &upgradeFixture{t: t, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		src: selfupdate.Source{Kind: selfupdate.KindStandalone, Path: "/usr/local/bin/parachute"},
		mgr: fakeManager{kind: servicemgr.KindSystemdSystem, installed: true}}
	f.hx = modops.UpgradeHost{
		Detect:  func(context.Context) (selfupdate.Source, error) { return f.src, nil },
		Manager: func() (servicemgr.Manager, error) { return f.mgr, nil },
		Spawn: func(_ context.Context, kind servicemgr.Kind, unit string, argv, env []string) error {
			f.spawns = append(f.spawns, append([]string{string(kind), unit}, argv...))
			return nil
		},
		Exe: func() (string, error) { return "/usr/local/bin/parachute", nil },
	}
	f.serve(config.Paths{Root: t.TempDir()}, "1.0.0")
	return f
}

// serve (re)creates the hub as version on root p: a new hub after an
// upgrade is a new process with the same config root.
func (f *upgradeFixture) serve(p config.Paths, version string) {
	f.s = New(Options{Paths: p, Version: version, Now: func() time.Time { return f.now }, upgradeHost: &f.hx})
}

func (f *upgradeFixture) post(body string) (int, map[string]any) {
	f.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/hub/upgrade", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	f.s.handle(f.s.handleHubUpgrade)(w, r)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func (f *upgradeFixture) status() (int, *selfupdate.Status) {
	f.t.Helper()
	w := httptest.NewRecorder()
	f.s.handle(f.s.handleHubUpgradeStatus)(w, httptest.NewRequest(http.MethodGet, "/api/hub/upgrade/status", nil))
	var st selfupdate.Status
	_ = json.Unmarshal(w.Body.Bytes(), &st)
	return w.Code, &st
}

// newBinary writes a script answering `version --json` with version.
func newBinary(t *testing.T, version string) string {
	p := filepath.Join(t.TempDir(), "parachute")
	body := fmt.Sprintf("#!/bin/sh\necho '{\"version\": %q}'\n", version)
	if version == "" {
		body = "#!/bin/sh\nexit 1\n"
	}
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHubUpgradeRefusals(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(f *upgradeFixture)
		body     string
		wantCode int
		wantErr  string
		wantText string
	}{
		{name: "no release source", body: `{}`, wantCode: 400, wantErr: "no_release_source"},
		{name: "relative from", body: `{"from": "parachute"}`, wantCode: 400, wantErr: "invalid_request"},
		{name: "bad channel", body: `{"channel": "beta"}`, wantCode: 400, wantErr: "invalid_channel"},
		{name: "unknown member", body: `{"form": "/x"}`, wantCode: 400, wantErr: "invalid_request"},
		{name: "packaged", setup: func(f *upgradeFixture) {
			f.src = selfupdate.Source{Kind: selfupdate.KindDeb, Path: "/usr/bin/parachute", Package: "parachute", Command: "sudo apt-get install --only-upgrade parachute"}
		}, body: `{"from": "/tmp/x"}`, wantCode: 409, wantErr: "packaged", wantText: "apt-get install --only-upgrade parachute"},
		{name: "no manager", setup: func(f *upgradeFixture) { f.mgr = fakeManager{kind: servicemgr.KindNone} },
			body: `{"from": "/tmp/x"}`, wantCode: 409, wantErr: "no_manager"},
		{name: "foreground hub on a systemd host", setup: func(f *upgradeFixture) { f.mgr.installed = false },
			body: `{"from": "/tmp/x"}`, wantCode: 409, wantErr: "not_managed"},
		{name: "broken binary", body: `{"from": "BROKEN"}`, wantCode: 400, wantErr: "smoke_test_failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newUpgradeFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			body := strings.Replace(tc.body, "BROKEN", newBinary(t, ""), 1)
			code, out := f.post(body)
			if code != tc.wantCode || out["error"] != tc.wantErr {
				t.Fatalf("POST %s = %d %v; want %d %s", body, code, out, tc.wantCode, tc.wantErr)
			}
			if desc, _ := out["error_description"].(string); !strings.Contains(desc, tc.wantText) {
				t.Fatalf("error_description %q does not contain %q", desc, tc.wantText)
			}
			if len(f.spawns) != 0 {
				t.Fatalf("a refused upgrade spawned a helper: %v", f.spawns)
			}
		})
	}
}

// TestHubUpgradeLifecycle: accepted → helper spawned once → a second POST
// is 409 while in flight → the new hub settles the status → the next
// upgrade is accepted; a dead helper stops blocking after StaleAfter.
func TestHubUpgradeLifecycle(t *testing.T) {
	f := newUpgradeFixture(t)
	if code, _ := f.status(); code != 404 {
		t.Fatalf("status before any upgrade = %d, want 404", code)
	}
	bin := newBinary(t, "2.0.0")
	code, out := f.post(`{"from": "` + bin + `"}`)
	if code != 202 || out["mode"] != "in-place" || out["target_version"] != "2.0.0" || out["current_version"] != "1.0.0" {
		t.Fatalf("POST = %d %v", code, out)
	}
	id, _ := out["operation_id"].(string)
	want := [][]string{{"systemd-system", selfupdate.HelperUnitName(id), "/usr/local/bin/parachute", "upgrade", "--from=" + bin, "--op=" + id, "hub"}}
	if d := cmp.Diff(want, f.spawns); d != "" {
		t.Fatalf("helper argv (-want +got):\n%s", d)
	}
	_, st := f.status()
	if st.Phase != selfupdate.PhasePending || st.OperationID != id {
		t.Fatalf("status = %+v", st)
	}

	if code, out := f.post(`{"from": "` + bin + `"}`); code != 409 || out["error"] != "upgrade_in_flight" {
		t.Fatalf("second POST while in flight = %d %v", code, out)
	}

	// The helper restarts the unit; the new hub (2.0.0) answers status.
	path := selfupdate.StatusPath(f.s.paths)
	if _, err := selfupdate.UpdateStatus(path, id, f.now, func(s *selfupdate.Status) { s.Phase = selfupdate.PhaseRestarting }); err != nil {
		t.Fatal(err)
	}
	f.serve(f.s.paths, "2.0.0")
	if _, st := f.status(); st.Phase != selfupdate.PhaseSucceeded || st.FinishedAt == nil {
		t.Fatalf("status on the new hub = %+v, want succeeded", st)
	}
	code, out = f.post(`{"from": "` + newBinary(t, "3.0.0") + `"}`)
	if code != 202 {
		t.Fatalf("POST after a finished upgrade = %d %v", code, out)
	}

	// A helper that died mid-way blocks only until it is stale.
	f.now = f.now.Add(selfupdate.StaleAfter + time.Second)
	if code, out := f.post(`{"from": "` + bin + `"}`); code != 202 {
		t.Fatalf("POST after a stale upgrade = %d %v", code, out)
	}
	if len(f.spawns) != 3 {
		t.Fatalf("helpers spawned: %d, want 3", len(f.spawns))
	}
}

func TestHubUpgradeContainerIsRedeployRequired(t *testing.T) {
	f := newUpgradeFixture(t)
	f.src = selfupdate.Source{Kind: selfupdate.KindContainer, Path: "/usr/bin/parachute"}
	for i := 0; i < 2; i++ { // a finished redeploy-required never blocks the next request
		code, out := f.post(`{}`)
		if code != 202 || out["mode"] != "redeploy-required" {
			t.Fatalf("POST %d = %d %v", i, code, out)
		}
	}
	if _, st := f.status(); st.Phase != selfupdate.PhaseRedeployRequired {
		t.Fatalf("status = %+v", st)
	}
	if len(f.spawns) != 0 {
		t.Fatalf("container upgrade spawned a helper: %v", f.spawns)
	}
}
