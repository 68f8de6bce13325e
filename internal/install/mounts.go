package install

import (
	"errors"
	"fmt"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/mounts"
)

// ErrMountConflict means a module's mounts overlap an installed module's or
// a prefix the hub keeps; errors.Is also matches the mounts.Err* cause.
var ErrMountConflict = errors.New("module mount conflicts")

// MountError refuses registering a row whose mounts the hub would refuse to
// route (see internal/mounts).
type MountError struct {
	// Short is the module being installed.
	Short string
	// Refusal is the rule the row broke; Refusal.OtherName is the installed
	// row it collides with, if any.
	Refusal mounts.Refusal
}

func (e *MountError) Error() string {
	r := e.Refusal
	if r.Other >= 0 && !errors.Is(r.Err, mounts.ErrDuplicate) {
		other := manifest.ShortName(r.OtherName)
		return fmt.Sprintf("cannot install %s: %v — give %s a path of its own in \"paths\" of its .parachute/module.json, "+
			"or uninstall %s first (parachute uninstall %s)", e.Short, r.Err, e.Short, other, other)
	}
	return fmt.Sprintf("cannot install %s: %v — fix \"paths\" in its .parachute/module.json (or services.json) and try again", e.Short, r.Err)
}

// Is makes errors.Is(err, ErrMountConflict) true.
func (e *MountError) Is(target error) bool { return target == ErrMountConflict }

// Unwrap returns the refusal, so errors.Is(err, mounts.ErrOverlap) works.
func (e *MountError) Unwrap() error { return e.Refusal }

// checkMounts applies the hub's mount rules to row as if it were registered
// after every other row of f (the row it replaces, at index replacing, is
// left out): a row the rules would refuse at boot is refused now, before
// anything is written, naming the module it collides with. Problems among
// the other rows are the hub's to report, not this install's.
func checkMounts(f *manifest.File, replacing int, short string, row manifest.Service) error {
	rows := make([]manifest.Service, 0, len(f.Services)+1)
	for i, s := range f.Services {
		if i != replacing {
			rows = append(rows, s)
		}
	}
	rows = append(rows, row)
	for _, r := range manifest.CheckMounts(rows) {
		if r.Index == len(rows)-1 {
			return &MountError{Short: short, Refusal: r}
		}
	}
	return nil
}
