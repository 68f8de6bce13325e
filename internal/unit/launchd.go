package unit

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"howett.net/plist"
)

// launchdJob is the plist of a launchd job. The XML encoder sorts dictionary
// keys, so the output is deterministic whatever the field order.
type launchdJob struct {
	Label                string            `plist:"Label"`
	ProgramArguments     []string          `plist:"ProgramArguments"`
	EnvironmentVariables map[string]string `plist:"EnvironmentVariables,omitempty"`
	WorkingDirectory     string            `plist:"WorkingDirectory,omitempty"`
	UserName             string            `plist:"UserName,omitempty"`
	GroupName            string            `plist:"GroupName,omitempty"`
	RunAtLoad            bool              `plist:"RunAtLoad"`
	KeepAlive            any               `plist:"KeepAlive"` // launchdKeepAlive, or true (RestartAlways)
	ThrottleInterval     int               `plist:"ThrottleInterval,omitempty"`
	ExitTimeOut          int               `plist:"ExitTimeOut,omitempty"`
	ProcessType          string            `plist:"ProcessType,omitempty"`
	StandardOutPath      string            `plist:"StandardOutPath,omitempty"`
	StandardErrorPath    string            `plist:"StandardErrorPath,omitempty"`
}

// launchdKeepAlive is the dictionary form of KeepAlive. SuccessfulExit=false
// restarts the job when it exits non-zero or dies by a signal, and leaves it
// stopped after a clean exit (the hub exits 0 when asked to stop).
type launchdKeepAlive struct {
	SuccessfulExit bool `plist:"SuccessfulExit"`
}

const (
	plistDoctype = `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n"
)

// RenderLaunchd renders s as a launchd property list (XML).
//
// launchd has no start-limit: Ceiling.Throttle becomes ThrottleInterval and
// the rest of the ceiling is not expressible. Nor has it an equivalent of
// RestartPreventExitStatus: a hub exiting ExitConfig is respawned every
// ThrottleInterval, which is why the interval stays at launchd's 10 s
// default or above. Notify and Watchdog have no launchd counterpart.
func RenderLaunchd(s Service) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if strings.Contains(s.Header, "--") {
		return nil, fmt.Errorf("rendering %s: header %q contains \"--\", which an XML comment cannot hold", s.Label, s.Header)
	}
	job := launchdJob{
		Label:             s.Label,
		ProgramArguments:  append([]string(nil), s.Argv...),
		WorkingDirectory:  s.WorkingDir,
		RunAtLoad:         true,
		KeepAlive:         launchdKeepAlive{SuccessfulExit: false},
		ExitTimeOut:       ceilSeconds(s.StopTimeout),
		ProcessType:       s.ProcessType,
		StandardOutPath:   s.LogFile,
		StandardErrorPath: s.LogFile,
	}
	if s.RestartAlways {
		job.KeepAlive = true
	}
	if s.Ceiling != nil {
		job.ThrottleInterval = ceilSeconds(s.Ceiling.Throttle)
	}
	if s.Scope == ScopeSystem {
		job.UserName, job.GroupName = s.User, s.Group
	}
	if len(s.Env) > 0 {
		job.EnvironmentVariables = make(map[string]string, len(s.Env))
		for _, e := range s.Env {
			if e.Specifiers {
				return nil, fmt.Errorf("rendering %s: %s=%q uses systemd specifiers, which launchd does not expand", s.Label, e.Name, e.Value)
			}
			job.EnvironmentVariables[e.Name] = e.Value
		}
	}
	out, err := plist.MarshalIndent(job, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("encoding plist for %s: %w", s.Label, err)
	}
	if s.Header != "" {
		// The comment goes after the DOCTYPE, where launchd and plutil
		// accept it.
		i := bytes.Index(out, []byte(plistDoctype))
		if i < 0 {
			return nil, fmt.Errorf("encoding plist for %s: no DOCTYPE in the encoder's output", s.Label)
		}
		i += len(plistDoctype)
		out = append(out[:i:i], append([]byte("<!-- "+xmlEscape(s.Header)+" -->\n"), out[i:]...)...)
	}
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return out, nil
}

// ceilSeconds rounds d up to whole seconds, the unit of launchd's integers.
func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
