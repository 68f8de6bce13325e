package settings

import "fmt"

// ModuleInstallChannel is the key of the admin's choice of npm channel
// for module installs ("latest" or "rc"), the reference's key.
const ModuleInstallChannel = "module_install_channel"

// ChannelEnv are the environment variables that set the install channel,
// canonical first, then the reference's legacy alias.
var ChannelEnv = []string{"PARACHUTE_INSTALL_CHANNEL", "PARACHUTE_MODULE_CHANNEL"}

// DefaultChannel is the channel when nothing chooses one.
const DefaultChannel = "latest"

// Sources of a resolved channel.
const (
	SourceEnv      = "env"
	SourceSettings = "settings"
	SourceDefault  = "default"
)

// ValidChannel reports whether ch is a channel modules install from.
func ValidChannel(ch string) bool { return ch == "latest" || ch == "rc" }

// ResolveChannel is the reference's precedence: the environment (a
// platform dashboard's setting must hold on every boot), then the stored
// setting, then latest. An invalid environment value is skipped and
// described in warnings; an invalid stored value is ignored likewise.
func ResolveChannel(stored string, getenv func(string) string) (channel, source string, warnings []string) {
	for _, k := range ChannelEnv {
		v := getenv(k)
		if v == "" {
			continue
		}
		if ValidChannel(v) {
			return v, SourceEnv, warnings
		}
		warnings = append(warnings, fmt.Sprintf("%s=%q is not a valid channel (latest or rc); ignoring it", k, v))
	}
	if ValidChannel(stored) {
		return stored, SourceSettings, warnings
	}
	if stored != "" {
		warnings = append(warnings, fmt.Sprintf("hub setting %s=%q is not a valid channel; using %s — set it again with PUT /api/modules/channel", ModuleInstallChannel, stored, DefaultChannel))
	}
	return DefaultChannel, SourceDefault, warnings
}
