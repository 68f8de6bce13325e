// Package buildinfo holds the version stamp of this binary. Release builds
// set Version, Commit and Date with -ldflags "-X"; development builds fall
// back to what the Go toolchain recorded (VCS revision, module version).
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Set by -ldflags "-X github.com/openparachute/parachute/internal/buildinfo.Version=…".
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Info describes this binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

var (
	once sync.Once
	info Info
)

// Get returns the stamped build information, filling gaps from the
// toolchain's embedded build info.
func Get() Info {
	once.Do(func() {
		info = Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(),
			Platform: runtime.GOOS + "/" + runtime.GOARCH}
		if bi, ok := debug.ReadBuildInfo(); ok {
			if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				info.Version = bi.Main.Version
			}
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					if info.Commit == "" {
						info.Commit = s.Value
					}
				case "vcs.time":
					if info.Date == "" {
						info.Date = s.Value
					}
				}
			}
		}
		if info.Version == "" {
			info.Version = "0.0.0-dev"
		}
		if info.Commit == "" {
			info.Commit = "unknown"
		}
	})
	return info
}
