package api

// Module config errors (GET/PUT /api/modules/<short>/config[/schema]).
const (
	// CodeNoConfigSchema: the module's module.json declares no configSchema
	// (the reference's code for the same empty state).
	CodeNoConfigSchema ErrorCode = "no_config_schema"
	// CodeInvalidConfig: the PUT body does not match the schema; Errors
	// lists each failure.
	CodeInvalidConfig ErrorCode = "invalid_config"
	// CodeInvalidConfigSchema: the module's configSchema cannot be used
	// (too large, not a schema, or it refers outside itself).
	CodeInvalidConfigSchema ErrorCode = "invalid_config_schema"
	// CodeConfigFileInvalid: the module's config.json exists but is not a
	// JSON object, so the hub will not merge into it.
	CodeConfigFileInvalid ErrorCode = "config_file_invalid"
)

// ConfigFieldError is one reason a config was refused (Error.Errors). Path
// is the admin page's field key (members joined with "."); InstancePath is
// the same place as an exact JSON Pointer. Where the validator cannot name
// the element or extra member at fault, both name the array or object
// around it. SchemaPath is the failing keyword in the schema.
type ConfigFieldError struct {
	Path         string `json:"path"`
	InstancePath string `json:"instance_path"`
	SchemaPath   string `json:"schema_path,omitempty"`
	Message      string `json:"message"`
}

// ModuleConfigPut is the answer to PUT /api/modules/<short>/config.
type ModuleConfigPut struct {
	Short string `json:"short"`
	// Config is the module's config after the change, secrets removed.
	Config map[string]any `json:"config"`
	// File is where the config was written.
	File string `json:"file"`
	// Restarted says whether the module was running and was restarted to
	// read it; a module that was not running reads it when next started.
	Restarted bool `json:"restarted"`
	// PID is the restarted module's new process id.
	PID int `json:"pid,omitempty"`
}

// ModulesChannel is the body of GET and PUT /api/modules/channel.
type ModulesChannel struct {
	// Channel is the stored choice ("latest" or "rc"); in a PUT body, the
	// new one.
	Channel string `json:"channel"`
	// EffectiveChannel is what module installs use: the environment's
	// PARACHUTE_INSTALL_CHANNEL when set, else Channel.
	EffectiveChannel string `json:"effective_channel,omitempty"`
	// Source says where EffectiveChannel comes from: "env", "settings" or
	// "default".
	Source string `json:"source,omitempty"`
	// Warning explains a stored choice the environment overrides.
	Warning string `json:"warning,omitempty"`
}
