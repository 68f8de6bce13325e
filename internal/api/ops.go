package api

import "time"

// Operation statuses, in the order an operation moves through them.
const (
	OpPending   = "pending"
	OpRunning   = "running"
	OpSucceeded = "succeeded"
	OpFailed    = "failed"
)

// Operation is an asynchronous module operation (install, upgrade, …),
// polled at GET /api/modules/operations/<id>.
type Operation struct {
	ID          string       `json:"id"`
	Kind        string       `json:"kind"`
	Short       string       `json:"short"`
	Status      string       `json:"status"` // OpPending | OpRunning | OpSucceeded | OpFailed
	Log         []string     `json:"log"`
	Error       string       `json:"error,omitempty"`
	ErrorDetail *ErrorDetail `json:"error_detail,omitempty"`
	StartedAt   time.Time    `json:"startedAt"`
	FinishedAt  *time.Time   `json:"finishedAt,omitempty"`
}

// ErrorDetail is a failed operation's machine-readable reason.
type ErrorDetail struct {
	ErrorType ErrorCode `json:"error_type"`
}

// OperationAccepted is the 202 answer of the install, upgrade and
// uninstall routes.
type OperationAccepted struct {
	OperationID string `json:"operation_id"`
}

// InstallBody is the optional JSON body of POST /api/modules/<short>/install.
type InstallBody struct {
	// Source is what to install: an absolute directory or .tgz path, or an
	// npm spec. Empty means the short name itself (a first-party module
	// or an npm package of that name).
	Source         string `json:"source,omitempty"`
	Channel        string `json:"channel,omitempty"`
	Tag            string `json:"tag,omitempty"`
	Port           int    `json:"port,omitempty"`
	NoStart        bool   `json:"no_start,omitempty"`
	AllowDowngrade bool   `json:"allow_downgrade,omitempty"`
	// NoCreate skips the module's init (vault's first vault) and leaves it
	// stopped.
	NoCreate bool `json:"no_create,omitempty"`
	// VaultName names the first vault of a new vault install.
	VaultName string `json:"vault_name,omitempty"`
	// ScribeProvider and ScribeKey (scribe only) pick its transcription
	// provider and that provider's API key. The key is a secret: the hub
	// writes it to scribe/.env and never logs it.
	ScribeProvider string `json:"scribe_provider,omitempty"`
	ScribeKey      string `json:"scribe_key,omitempty"`
}

// UpgradeBody is the optional JSON body of POST /api/modules/<short>/upgrade.
type UpgradeBody struct {
	// From upgrades from an absolute directory or .tgz path, or an npm spec.
	From           string `json:"from,omitempty"`
	Channel        string `json:"channel,omitempty"`
	Tag            string `json:"tag,omitempty"`
	AllowDowngrade bool   `json:"allow_downgrade,omitempty"`
	DryRun         bool   `json:"dry_run,omitempty"`
}

// UninstallBody is the optional JSON body of POST /api/modules/<short>/uninstall.
type UninstallBody struct {
	Purge bool `json:"purge,omitempty"`
}

// HubUpgradeBody is the JSON body of POST /api/hub/upgrade.
type HubUpgradeBody struct {
	// From is the absolute path of the new parachute binary on this host.
	// There is no release server yet, so it is required.
	From           string `json:"from,omitempty"`
	AllowDowngrade bool   `json:"allow_downgrade,omitempty"`
	// Channel is accepted for compatibility with the reference admin UI
	// ("rc" or "latest"); without a release server it selects nothing.
	Channel string `json:"channel,omitempty"`
}

// HubUpgradeAccepted is the 202 answer of POST /api/hub/upgrade.
type HubUpgradeAccepted struct {
	OperationID    string  `json:"operation_id"`
	Mode           string  `json:"mode"`
	CurrentVersion string  `json:"current_version"`
	TargetVersion  *string `json:"target_version"`
}
