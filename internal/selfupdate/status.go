package selfupdate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openparachute/parachute/internal/atomicfile"
	"github.com/openparachute/parachute/internal/config"
)

// Phases of a hub upgrade in the status file. pending, running and
// restarting are in flight; the others are final.
const (
	PhasePending          = "pending"
	PhaseRunning          = "running"
	PhaseRestarting       = "restarting"
	PhaseSucceeded        = "succeeded"
	PhaseFailed           = "failed"
	PhaseRolledBack       = "rolled-back"
	PhaseRedeployRequired = "redeploy-required"
)

// StaleAfter is how long an in-flight upgrade may go without progress
// before it is declared failed, so a helper that died never blocks the
// next upgrade (the reference's 409-forever bug, lifecycle.md §9.1).
// PendingStaleAfter is the same for an upgrade whose helper never
// reported at all (it marks the status running as soon as it starts).
const (
	StaleAfter        = 10 * time.Minute
	PendingStaleAfter = 2 * time.Minute
)

// Status is <root>/hub-upgrade-status.json: one slot, the latest upgrade.
type Status struct {
	OperationID    string     `json:"operation_id"`
	Phase          string     `json:"phase"`
	Mode           string     `json:"mode"` // in-place | redeploy-required
	CurrentVersion string     `json:"current_version"`
	TargetVersion  *string    `json:"target_version"`
	From           string     `json:"from,omitempty"`
	Log            []string   `json:"log"`
	Error          string     `json:"error,omitempty"`
	StartedAt      time.Time  `json:"started_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	FinishedAt     *time.Time `json:"finished_at,omitempty"`
}

// StatusPath is the status file of a config root.
func StatusPath(p config.Paths) string { return filepath.Join(p.Root, "hub-upgrade-status.json") }

// InFlight reports whether the upgrade still runs: an in-flight phase
// with progress within StaleAfter.
func (s *Status) InFlight(now time.Time) bool {
	switch s.Phase {
	case PhasePending:
		return now.Sub(s.UpdatedAt) < PendingStaleAfter
	case PhaseRunning, PhaseRestarting:
		return now.Sub(s.UpdatedAt) < StaleAfter
	}
	return false
}

// Finish sets a final phase, its error and finished_at.
func (s *Status) Finish(phase string, err error, now time.Time) {
	s.Phase, s.UpdatedAt = phase, now.UTC()
	t := now.UTC()
	s.FinishedAt = &t
	if err != nil {
		s.Error = err.Error()
	}
}

// Reconcile settles a status left behind by a hub restart: a restarting
// upgrade whose target version is now running succeeded (the new hub
// writes that, since the old one cannot), and an in-flight one with no
// progress for StaleAfter failed. It reports whether s changed.
func (s *Status) Reconcile(runningVersion string, now time.Time) bool {
	switch {
	case s.Phase == PhaseRestarting && s.TargetVersion != nil && *s.TargetVersion == runningVersion:
		s.Log = append(s.Log, "the new hub "+runningVersion+" is up")
		s.Finish(PhaseSucceeded, nil, now)
		return true
	case (s.Phase == PhasePending || s.Phase == PhaseRunning || s.Phase == PhaseRestarting) && !s.InFlight(now):
		s.Log = append(s.Log, fmt.Sprintf("no progress since %s; the upgrade helper is gone", s.UpdatedAt.Format(time.RFC3339)))
		s.Finish(PhaseFailed, errors.New("the upgrade did not finish (its helper stopped reporting)"), now)
		return true
	}
	return false
}

// ReadStatus reads the status file; a missing file is (nil, nil).
func ReadStatus(path string) (*Status, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if s.Log == nil {
		s.Log = []string{}
	}
	return &s, nil
}

// WriteStatus writes the status file atomically with mode 0600.
func WriteStatus(path string, s *Status) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

// UpdateStatus applies fn to the status file when it still describes
// operation id (a superseded helper must not clobber a newer upgrade) and
// stamps updated_at. It reports whether the file matched.
func UpdateStatus(path, id string, now time.Time, fn func(*Status)) (bool, error) {
	s, err := ReadStatus(path)
	if err != nil || s == nil || s.OperationID != id {
		return false, err
	}
	fn(s)
	s.UpdatedAt = now.UTC()
	return true, WriteStatus(path, s)
}
