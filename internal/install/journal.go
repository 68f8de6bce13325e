package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/openparachute/parachute/internal/atomicfile"
	"github.com/openparachute/parachute/internal/manifest"
)

// journalName is the file under the config root that records a package
// replacement in progress. Installs are serialised by the install lock, so
// there is at most one.
const journalName = ".install-journal.json"

// journalVersion is the journal's format version.
const journalVersion = 1

// The steps of a package replacement, each written to the journal before
// the file-system changes it announces. Recover reads the last one written
// and either finishes or rolls back:
//
//	step          what may have happened             recovery
//	moving-aside  a stale Prev partly removed;       Dir there: remove Prev (nothing changed)
//	              maybe Dir renamed to Prev          Dir gone: rename Prev back to Dir
//	moved-aside   Dir is Prev (or Dir was absent);   remove Dir, rename Prev back (fresh: remove Dir)
//	              the package manager wrote Dir
//	registering   the new Dir is complete; its row   as moved-aside, and put OldRow back
//	              may be in services.json            (fresh: keep it when its row is written)
//	committing    the new version is accepted;       remove Prev
//	              Prev partly removed
//
// A replacement is rolled back until the new version has been accepted
// (started and ready, or registered when no hub runs), because until then
// nothing has shown that it works.
const (
	stepMovingAside = "moving-aside"
	stepMovedAside  = "moved-aside"
	stepRegistering = "registering"
	stepCommitting  = "committing"
)

// journal is one package replacement in progress.
type journal struct {
	Version int `json:"version"`
	// Op is "install" or "upgrade", for messages.
	Op string `json:"op"`
	// Module is the module's short name ("" until known); Package its npm
	// package.
	Module  string `json:"module,omitempty"`
	Package string `json:"package"`
	// Root is the package manager's global root; Dir and Prev lie in it.
	Root string `json:"root"`
	// Dir is the package directory being replaced.
	Dir string `json:"dir"`
	// Prev is where the previous Dir is kept; "" when Dir did not exist
	// (a fresh install).
	Prev string `json:"prev,omitempty"`
	Step string `json:"step"`
	// OldRow is the module's services.json row before the replacement
	// (nil when it had none).
	OldRow *manifest.Service `json:"oldRow,omitempty"`
}

// stepHook, when set (tests only), is called at every step boundary of a
// replacement with the step's name, so a test can kill the process there.
var stepHook func(step string)

func hook(step string) {
	if stepHook != nil {
		stepHook(step)
	}
}

func journalPath(root string) string { return filepath.Join(root, journalName) }

// writeJournal records j atomically (0600: it names directories the
// installer will remove).
func writeJournal(root string, j *journal) error {
	j.Version = journalVersion
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the install journal: %w", err)
	}
	if err := atomicfile.WriteFile(journalPath(root), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the install journal: %w", err)
	}
	hook(j.Step)
	return nil
}

// readJournal returns the journal under root, or nil when there is none.
func readJournal(root string) (*journal, error) {
	path := journalPath(root)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the install journal %s: %w", path, err)
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("reading the install journal %s: %w — inspect the directories it names, then delete it", path, err)
	}
	if j.Version != journalVersion {
		return nil, fmt.Errorf("the install journal %s has version %d, which this parachute does not know — finish with the parachute that wrote it, or delete it", path, j.Version)
	}
	return &j, nil
}

// clearJournal removes the journal once the replacement is finished or
// rolled back.
func clearJournal(root string) error {
	if err := os.Remove(journalPath(root)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the install journal: %w", err)
	}
	hook("cleared")
	return nil
}

// check refuses a journal whose paths are not what the installer writes:
// Dir inside Root, Prev its sibling backup. A damaged or planted journal
// must not make recovery move or remove anything else.
func (j *journal) check() error {
	if err := checkInside(j.Root, j.Dir); err != nil {
		return fmt.Errorf("the install journal names %s: %w", j.Dir, err)
	}
	if j.Prev != "" && j.Prev != backupPath(j.Dir) {
		return fmt.Errorf("the install journal names %s as the previous copy of %s, expected %s", j.Prev, j.Dir, backupPath(j.Dir))
	}
	switch j.Step {
	case stepMovingAside, stepMovedAside, stepRegistering, stepCommitting:
	default:
		return fmt.Errorf("the install journal has an unknown step %q", j.Step)
	}
	if j.Step == stepMovingAside && j.Prev == "" {
		return fmt.Errorf("the install journal is at %q without a previous copy", j.Step)
	}
	return nil
}

// label names the module in messages.
func (j *journal) label() string {
	return firstNonEmpty(j.Module, j.Package, filepath.Base(j.Dir))
}
