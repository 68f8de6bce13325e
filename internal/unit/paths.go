package unit

import "path/filepath"

// Where hub units live. The CLI installs into /etc (system) or the user's
// config; packages ship into /usr/lib, which /etc overrides.
const (
	// SystemUnitPath is the system unit the CLI installs (as root).
	SystemUnitPath = "/etc/systemd/system/" + SystemdName
	// PackagedSystemUnitPath is the system unit the deb and rpm ship.
	PackagedSystemUnitPath = "/usr/lib/systemd/system/" + SystemdName
	// PackagedUserUnitPath is the user unit the deb and rpm ship (not
	// enabled by the package).
	PackagedUserUnitPath = "/usr/lib/systemd/user/" + SystemdName
	// LaunchDaemonPath is the plist of a system-wide launchd job (as root).
	LaunchDaemonPath = "/Library/LaunchDaemons/" + LaunchdLabel + ".plist"
)

// SystemdUnitPath is where the CLI installs the hub's systemd unit:
// SystemUnitPath for ScopeSystem, else ~/.config/systemd/user/ under home
// (an absolute home directory).
func SystemdUnitPath(scope Scope, home string) string {
	if scope == ScopeSystem {
		return SystemUnitPath
	}
	return filepath.Join(home, ".config", "systemd", "user", SystemdName)
}

// LaunchdPlistPath is where the CLI installs the hub's plist:
// LaunchDaemonPath when system, else ~/Library/LaunchAgents/ under home.
func LaunchdPlistPath(system bool, home string) string {
	if system {
		return LaunchDaemonPath
	}
	return filepath.Join(home, "Library", "LaunchAgents", LaunchdLabel+".plist")
}
