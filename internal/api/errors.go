package api

import "fmt"

// ErrorCode is the machine-readable "error" member of an API error body,
// and the error_type of a failed operation. Clients branch on these
// constants, never on the description.
type ErrorCode string

// Request and routing errors.
const (
	CodeNotFound          ErrorCode = "not_found"
	CodeMethodNotAllowed  ErrorCode = "method_not_allowed"
	CodeHostNotAllowed    ErrorCode = "host_not_allowed"
	CodeCrossOrigin       ErrorCode = "cross_origin"
	CodeUnauthenticated   ErrorCode = "unauthenticated"
	CodeInsufficientScope ErrorCode = "insufficient_scope"
	CodeStarting          ErrorCode = "starting" // the hub is still loading its keys
	CodeShuttingDown      ErrorCode = "shutting_down"
	CodeInvalidRequest    ErrorCode = "invalid_request"
	CodeInvalidScope      ErrorCode = "invalid_scope" // a scope the bearer may not grant, or malformed
	CodeInvalidChannel    ErrorCode = "invalid_channel"
	CodeRequestTimeout    ErrorCode = "request_timeout"
	CodeBodyTooLarge      ErrorCode = "body_too_large"
	CodeInternal          ErrorCode = "internal_error"
	CodeJWKSFailed        ErrorCode = "jwks_failed"
)

// Module start, stop and logs errors.
const (
	CodeMountRefused      ErrorCode = "mount_refused"
	CodeNotInstalled      ErrorCode = "not_installed"
	CodeInvalidModule     ErrorCode = "invalid_module"
	CodeNoStartCmd        ErrorCode = "no_start_cmd"
	CodeMissingDependency ErrorCode = "missing_dependency"
	CodeNotReady          ErrorCode = "not_ready"
	CodeExitedDuringStart ErrorCode = "exited_during_start"
	CodeStartFailed       ErrorCode = "start_failed"
	CodeStopFailed        ErrorCode = "stop_failed"
	CodeNotSupervised     ErrorCode = "not_supervised"
)

// Proxy errors.
const (
	CodeUpstreamStarting    ErrorCode = "upstream_starting"
	CodeUpstreamUnreachable ErrorCode = "upstream_unreachable"
)

// Hub self-upgrade errors.
const (
	CodeUpgradeInFlight   ErrorCode = "upgrade_in_flight"
	CodeDetectFailed      ErrorCode = "detect_failed"
	CodeStatusWriteFailed ErrorCode = "status_write_failed"
	CodeStatusUnreadable  ErrorCode = "status_unreadable"
	CodePackaged          ErrorCode = "packaged"
	CodeNoReleaseSource   ErrorCode = "no_release_source"
	CodeSmokeTestFailed   ErrorCode = "smoke_test_failed"
	CodeHelperFailed      ErrorCode = "helper_failed"
	CodeNoManager         ErrorCode = "no_manager"
	CodeNotManaged        ErrorCode = "not_managed"
)

// Install, upgrade and uninstall error types (an operation's
// error_detail.error_type). CodeStartFailed, CodeNotInstalled and
// CodeMissingDependency above are error types too.
const (
	CodeRolledBack            ErrorCode = "rolled_back"
	CodeDowngradeRefused      ErrorCode = "downgrade_refused"
	CodeNameCollision         ErrorCode = "name_collision"
	CodeNotAModule            ErrorCode = "not_a_module"
	CodeMountConflict         ErrorCode = "mount_conflict"
	CodePortInUse             ErrorCode = "port_in_use"
	CodeDirtyTree             ErrorCode = "dirty_tree"
	CodeNothingToUpgrade      ErrorCode = "nothing_to_upgrade"
	CodeServicesJSONMalformed ErrorCode = "services_json_malformed"
	CodeInvalidManifest       ErrorCode = "invalid_manifest"
	CodeFailed                ErrorCode = "failed"
)

// Error is the one JSON error body of the API, and the one typed error its
// handlers return: the HTTP status, the {error, error_description}
// envelope the reference hub uses, and optional extras.
type Error struct {
	Status      int       `json:"-"`
	Code        ErrorCode `json:"error"`
	Description string    `json:"error_description"`
	// Detail is an optional structured payload (e.g. a module's start error).
	Detail any `json:"detail,omitempty"`
	// Service names the module a proxy error is about.
	Service string `json:"service,omitempty"`
	// RetryAfterMS says when a retry may succeed (a module still starting).
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
	// Errors lists each failure of a refused module config (invalid_config).
	Errors []ConfigFieldError `json:"errors,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Description) }

// Errorf returns an *Error with a formatted description.
func Errorf(status int, code ErrorCode, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}
