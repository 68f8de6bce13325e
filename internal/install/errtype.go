package install

import (
	"errors"
	"path/filepath"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/manifest"
)

// ErrorType classifies an installer error for clients, as the hub puts it
// in an operation's error_detail.error_type and the CLI maps it to advice.
// It is one of the install error codes in internal/api (CodeRolledBack …
// CodeFailed).
func ErrorType(err error) api.ErrorCode {
	var rb *RollbackError
	var se *StartError
	var me *manifest.ManifestError
	switch {
	case errors.As(err, &rb):
		return api.CodeRolledBack
	case errors.As(err, &se):
		return api.CodeStartFailed
	case errors.Is(err, ErrDowngrade):
		return api.CodeDowngradeRefused
	case errors.Is(err, ErrCollision):
		return api.CodeNameCollision
	case errors.Is(err, ErrNotModule):
		return api.CodeNotAModule
	case errors.Is(err, ErrMountConflict):
		return api.CodeMountConflict
	case errors.Is(err, ErrPortInUse):
		return api.CodePortInUse
	case errors.Is(err, ErrNotInstalled):
		return api.CodeNotInstalled
	case errors.Is(err, ErrDirtyTree):
		return api.CodeDirtyTree
	case errors.Is(err, ErrNothingToUpgrade):
		return api.CodeNothingToUpgrade
	case errors.Is(err, ErrNoPackageManager):
		return api.CodeMissingDependency
	case errors.As(err, &me) && filepath.Base(me.Path) == "services.json":
		return api.CodeServicesJSONMalformed
	case errors.As(err, &me):
		return api.CodeInvalidManifest
	}
	return api.CodeFailed
}
