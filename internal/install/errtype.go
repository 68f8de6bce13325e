package install

import (
	"errors"
	"path/filepath"

	"github.com/openparachute/parachute/internal/manifest"
)

// ErrorType classifies an installer error for clients, as the hub puts it
// in an operation's error_detail.error_type and the CLI maps it to advice:
// rolled_back, start_failed, downgrade_refused, name_collision,
// not_a_module, mount_conflict, port_in_use, not_installed, dirty_tree,
// nothing_to_upgrade, missing_dependency, services_json_malformed,
// invalid_manifest, or failed.
func ErrorType(err error) string {
	var rb *RollbackError
	var se *StartError
	var me *manifest.ManifestError
	switch {
	case errors.As(err, &rb):
		return "rolled_back"
	case errors.As(err, &se):
		return "start_failed"
	case errors.Is(err, ErrDowngrade):
		return "downgrade_refused"
	case errors.Is(err, ErrCollision):
		return "name_collision"
	case errors.Is(err, ErrNotModule):
		return "not_a_module"
	case errors.Is(err, ErrMountConflict):
		return "mount_conflict"
	case errors.Is(err, ErrPortInUse):
		return "port_in_use"
	case errors.Is(err, ErrNotInstalled):
		return "not_installed"
	case errors.Is(err, ErrDirtyTree):
		return "dirty_tree"
	case errors.Is(err, ErrNothingToUpgrade):
		return "nothing_to_upgrade"
	case errors.Is(err, ErrNoPackageManager):
		return "missing_dependency"
	case errors.As(err, &me) && filepath.Base(me.Path) == "services.json":
		return "services_json_malformed"
	case errors.As(err, &me):
		return "invalid_manifest"
	}
	return "failed"
}
