package selfupdate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeBinary writes a shell script that answers `version --json` like
// parachute does, or fails when version is "".
func fakeBinary(t *testing.T, dir, name, version string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	body := "#!/bin/sh\necho 'broken build' >&2\nexit 1\n"
	if version != "" {
		body = fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = version ]; then echo '{\"version\": %q, \"commit\": \"abc\"}'; exit 0; fi\nexit 0\n", version)
	}
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeHub records restarts; the hub it "runs" is whatever binary is at
// target when it restarts, and unhealthy decides whether that version
// comes up.
type fakeHub struct {
	t         *testing.T
	target    string
	unhealthy map[string]bool
	running   string
	events    []string
}

func (h *fakeHub) restart(ctx context.Context) error {
	v, err := VersionOf(ctx, h.target)
	if err != nil {
		return err
	}
	h.running = v
	h.events = append(h.events, "restart "+v)
	return nil
}

func (h *fakeHub) waitHealthy(ctx context.Context, want string) error {
	h.events = append(h.events, "health "+want)
	if h.unhealthy[h.running] {
		return fmt.Errorf("hub %s exited at once", h.running)
	}
	if want != "" && h.running != want {
		return fmt.Errorf("hub reports %s, want %s", h.running, want)
	}
	return nil
}

func TestUpgrade(t *testing.T) {
	tests := []struct {
		name       string
		newVersion string // "" = a broken binary
		opts       Options
		unhealthy  map[string]bool
		noManager  bool
		want       *Outcome
		wantErr    error
		wantEvents []string
		wantOnDisk string
	}{
		{name: "healthy", newVersion: "2.0.0", want: &Outcome{From: "1.0.0", To: "2.0.0", Restarted: true},
			wantEvents: []string{"restart 2.0.0", "health 2.0.0"}, wantOnDisk: "2.0.0"},
		{name: "unhealthy rolls back", newVersion: "2.0.0", unhealthy: map[string]bool{"2.0.0": true}, wantErr: &RollbackError{},
			wantEvents: []string{"restart 2.0.0", "health 2.0.0", "restart 1.0.0", "health 1.0.0"}, wantOnDisk: "1.0.0"},
		{name: "broken binary never installed", newVersion: "", wantErr: ErrSmokeTest, wantOnDisk: "1.0.0"},
		{name: "same version", newVersion: "1.0.0", want: &Outcome{From: "1.0.0", To: "1.0.0", Unchanged: true}, wantOnDisk: "1.0.0"},
		{name: "downgrade refused", newVersion: "0.9.0", wantErr: ErrDowngrade, wantOnDisk: "1.0.0"},
		{name: "downgrade allowed", newVersion: "0.9.0", opts: Options{AllowDowngrade: true},
			want: &Outcome{From: "1.0.0", To: "0.9.0", Restarted: true}, wantEvents: []string{"restart 0.9.0", "health 0.9.0"}, wantOnDisk: "0.9.0"},
		{name: "dry run", newVersion: "2.0.0", opts: Options{DryRun: true}, want: &Outcome{From: "1.0.0", To: "2.0.0", DryRun: true}, wantOnDisk: "1.0.0"},
		{name: "no manager replaces only", newVersion: "2.0.0", noManager: true, want: &Outcome{From: "1.0.0", To: "2.0.0"}, wantOnDisk: "2.0.0"},
		{name: "no release source", opts: Options{From: "-"}, wantErr: ErrNoReleaseSource, wantOnDisk: "1.0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			target := fakeBinary(t, dir, "parachute", "1.0.0")
			hub := &fakeHub{t: t, target: target, unhealthy: tc.unhealthy, running: "1.0.0"}
			o := tc.opts
			o.Source = Source{Kind: KindStandalone, Path: target}
			switch o.From {
			case "-":
				o.From = ""
			default:
				o.From = fakeBinary(t, t.TempDir(), "parachute-new", tc.newVersion)
			}
			if !tc.noManager {
				o.Restart, o.WaitHealthy = hub.restart, hub.waitHealthy
			}
			got, err := Upgrade(ctx, o)
			if tc.wantErr != nil {
				var rb *RollbackError
				if _, want := tc.wantErr.(*RollbackError); want {
					if !errors.As(err, &rb) || rb.RestoreErr != nil || rb.Restored != "1.0.0" {
						t.Fatalf("err = %v, want a clean rollback to 1.0.0", err)
					}
				} else if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				if got != nil {
					got.Backup = "" // checked below
				}
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Fatalf("outcome (-want +got):\n%s", d)
				}
			}
			if d := cmp.Diff(tc.wantEvents, hub.events); d != "" {
				t.Fatalf("hub events (-want +got):\n%s", d)
			}
			if v, err := VersionOf(ctx, target); err != nil || v != tc.wantOnDisk {
				t.Fatalf("installed binary reports %q, %v; want %s", v, err, tc.wantOnDisk)
			}
			if tc.want != nil && tc.want.Restarted {
				if v, err := VersionOf(ctx, target+".old"); err != nil || v != "1.0.0" {
					t.Fatalf("kept backup reports %q, %v; want 1.0.0", v, err)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".new-") {
					t.Fatalf("staged file left behind: %s", e.Name())
				}
			}
		})
	}
}

func TestUpgradeRefusesPackagedAndContainer(t *testing.T) {
	_, err := Upgrade(context.Background(), Options{From: "/x", Source: Source{Kind: KindDeb, Path: "/usr/bin/parachute", Package: "parachute",
		Command: "sudo apt-get update && sudo apt-get install --only-upgrade parachute"}})
	var pe *PackagedError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "apt-get install --only-upgrade parachute") {
		t.Fatalf("deb: err = %v, want a PackagedError naming the apt command", err)
	}
	if _, err := Upgrade(context.Background(), Options{From: "/x", Source: Source{Kind: KindContainer}}); !errors.Is(err, ErrRedeployRequired) {
		t.Fatalf("container: err = %v, want ErrRedeployRequired", err)
	}
}

func TestStatusReconcile(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v2 := "2.0.0"
	tests := []struct {
		name      string
		st        Status
		running   string
		wantPhase string
		changed   bool
		inFlight  bool
	}{
		{name: "restarting onto the target", st: Status{Phase: PhaseRestarting, TargetVersion: &v2, UpdatedAt: now}, running: "2.0.0", wantPhase: PhaseSucceeded, changed: true},
		{name: "restarting, still the old hub", st: Status{Phase: PhaseRestarting, TargetVersion: &v2, UpdatedAt: now}, running: "1.0.0", wantPhase: PhaseRestarting, inFlight: true},
		{name: "stale helper", st: Status{Phase: PhaseRunning, UpdatedAt: now.Add(-StaleAfter - time.Second)}, running: "1.0.0", wantPhase: PhaseFailed, changed: true},
		{name: "running helper", st: Status{Phase: PhaseRunning, UpdatedAt: now.Add(-3 * time.Minute)}, running: "1.0.0", wantPhase: PhaseRunning, inFlight: true},
		{name: "helper never reported", st: Status{Phase: PhasePending, UpdatedAt: now.Add(-PendingStaleAfter - time.Second)}, running: "1.0.0", wantPhase: PhaseFailed, changed: true},
		{name: "helper about to report", st: Status{Phase: PhasePending, UpdatedAt: now.Add(-time.Second)}, running: "1.0.0", wantPhase: PhasePending, inFlight: true},
		{name: "finished", st: Status{Phase: PhaseRolledBack, UpdatedAt: now.Add(-time.Hour)}, running: "1.0.0", wantPhase: PhaseRolledBack},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st
			changed := st.Reconcile(tc.running, now)
			if st.Phase != tc.wantPhase || changed != tc.changed || st.InFlight(now) != tc.inFlight {
				t.Fatalf("after Reconcile: phase %s changed %v inFlight %v; want %s %v %v", st.Phase, changed, st.InFlight(now), tc.wantPhase, tc.changed, tc.inFlight)
			}
		})
	}
}

func TestUpdateStatusOnlyTouchesItsOperation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub-upgrade-status.json")
	now := time.Now()
	if err := WriteStatus(path, &Status{OperationID: "new", Phase: PhasePending, Log: []string{}}); err != nil {
		t.Fatal(err)
	}
	ok, err := UpdateStatus(path, "old", now, func(s *Status) { s.Phase = PhaseFailed })
	if err != nil || ok {
		t.Fatalf("UpdateStatus(old) = %v, %v; want no match", ok, err)
	}
	ok, err = UpdateStatus(path, "new", now, func(s *Status) { s.Phase = PhaseRunning; s.Log = append(s.Log, "started") })
	if err != nil || !ok {
		t.Fatalf("UpdateStatus(new) = %v, %v", ok, err)
	}
	st, err := ReadStatus(path)
	if err != nil || st.Phase != PhaseRunning || len(st.Log) != 1 {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("status file mode = %v, %v; want 0600", fi.Mode(), err)
	}
}
