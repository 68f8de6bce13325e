package unit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RenderSystemd renders s as a systemd service unit.
//
// Every value is escaped the way systemd reads it back: '%' becomes "%%"
// (specifiers expand in nearly every setting), Environment= assignments are
// written as one C-quoted "NAME=value" word, and ExecStart arguments are
// quoted when they hold whitespace, quotes, backslashes, ';', '%' or '$'
// ('$' becomes "$$", since systemd expands $VAR in arguments). Values a
// unit file cannot carry (newlines, control characters) are an error.
func RenderSystemd(s Service) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	w := &unitWriter{}
	if s.Header != "" {
		w.line("# " + s.Header)
	}

	w.section("Unit")
	w.kv("Description", escapeSpecifiers(s.Description))
	if s.Scope == ScopeSystem {
		// In a user manager network-online.target does not exist, so the
		// ordering only means something for system units.
		w.kv("After", "network-online.target")
		w.kv("Wants", "network-online.target")
	}
	if c := s.Ceiling; c != nil {
		// The start limit is read from [Unit] only; in [Service] systemd
		// ignores StartLimitIntervalSec= (the reference hub's mistake).
		w.kv("StartLimitIntervalSec", seconds(c.Interval))
		w.kv("StartLimitBurst", strconv.Itoa(c.Burst))
	}

	w.section("Service")
	if s.Notify {
		w.kv("Type", "notify")
		// Only the hub's own process may report readiness and pings, not
		// a module it supervises.
		w.kv("NotifyAccess", "main")
	} else {
		w.kv("Type", "simple")
	}
	if s.Scope == ScopeSystem {
		w.kvIf("User", s.User)
		w.kvIf("Group", s.Group)
		if s.StateDirectory != "" {
			w.kv("StateDirectory", s.StateDirectory)
			// 0750, not systemd's 0755: the group may read the operator
			// token, others may not list the state.
			w.kv("StateDirectoryMode", "0750")
		}
	}
	for _, e := range s.Env {
		w.kv("Environment", quoteEnv(e))
	}
	if s.Delegate {
		w.kv("Environment", quoteEnv(EnvVar{Name: DelegationEnv, Value: "1"}))
	}
	if s.WorkingDir != "" {
		w.kv("WorkingDirectory", w.raw("working directory", s.WorkingDir))
	}
	w.kv("ExecStart", execLine(s.Argv))
	if s.RestartAlways {
		w.kv("Restart", "always")
	} else {
		w.kv("Restart", "on-failure")
	}
	if s.RestartDelay > 0 {
		w.kv("RestartSec", seconds(s.RestartDelay))
	}
	if len(s.NoRestartExitCodes) > 0 {
		codes := make([]string, len(s.NoRestartExitCodes))
		for i, c := range s.NoRestartExitCodes {
			codes[i] = strconv.Itoa(c)
		}
		w.kv("RestartPreventExitStatus", strings.Join(codes, " "))
	}
	if s.Notify && s.Watchdog > 0 {
		w.kv("WatchdogSec", seconds(s.Watchdog))
	}
	if s.StopTimeout > 0 {
		w.kv("TimeoutStopSec", seconds(s.StopTimeout))
	}
	w.kvIf("KillMode", s.KillMode)
	if s.Delegate {
		w.kv("Delegate", "yes")
	}
	if s.Hardening && s.Scope == ScopeSystem {
		w.hardening(s.WritablePaths, s.Delegate)
	}

	w.section("Install")
	if s.Scope == ScopeSystem {
		w.kv("WantedBy", "multi-user.target")
	} else {
		w.kv("WantedBy", "default.target")
	}
	if w.err != nil {
		return nil, fmt.Errorf("rendering %s: %w", s.Name, w.err)
	}
	return []byte(w.b.String()), nil
}

// hardening writes the sandbox of a system unit. Every setting here leaves
// ordinary programs working (the hub's children are arbitrary modules:
// bun, node, ffmpeg), and all of them exist in systemd 252 (Debian 12).
func (w *unitWriter) hardening(writable []string, delegate bool) {
	w.kv("NoNewPrivileges", "yes")
	// strict: the whole file system is read-only except the config root
	// (and what else the caller lists), /dev, /proc, /sys and PrivateTmp.
	w.kv("ProtectSystem", "strict")
	if len(writable) > 0 {
		words := make([]string, len(writable))
		for i, p := range writable {
			words[i] = quoteWord(escapeSpecifiers(p), true)
		}
		w.kv("ReadWritePaths", strings.Join(words, " "))
	}
	w.kv("PrivateTmp", "yes")
	w.kv("ProtectKernelTunables", "yes")
	w.kv("ProtectKernelModules", "yes")
	if !delegate {
		// With Delegate=yes the service must write its own subtree of
		// /sys/fs/cgroup; systemd 252 has no ProtectControlGroups= mode
		// that allows that (=private needs 257), so delegation goes without.
		w.kv("ProtectControlGroups", "yes")
	}
	w.kv("RestrictSUIDSGID", "yes")
	w.kv("LockPersonality", "yes")
}

// unitWriter builds unit text; the first error sticks.
type unitWriter struct {
	b        strings.Builder
	sections int
	err      error
}

func (w *unitWriter) line(s string) { w.b.WriteString(s + "\n") }

func (w *unitWriter) section(name string) {
	if w.sections > 0 {
		w.line("")
	}
	w.sections++
	w.line("[" + name + "]")
}

func (w *unitWriter) kv(k, v string) { w.line(k + "=" + v) }

func (w *unitWriter) kvIf(k, v string) {
	if v != "" {
		w.kv(k, escapeSpecifiers(v))
	}
}

// raw escapes a value systemd reads verbatim to the end of the line (no
// quoting), such as WorkingDirectory=. systemd trims trailing whitespace and
// treats a trailing backslash as a line continuation; neither can be
// escaped, so both are errors.
func (w *unitWriter) raw(what, v string) string {
	if strings.TrimRight(v, " \t\\") != v && w.err == nil {
		w.err = fmt.Errorf("%s %q ends in whitespace or a backslash, which systemd cannot read back", what, v)
	}
	return escapeSpecifiers(v)
}

// seconds renders a duration as systemd reads it: whole seconds as a bare
// number, anything finer in milliseconds.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// escapeSpecifiers doubles '%' so systemd's specifier expansion gives the
// literal text back.
func escapeSpecifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// quoteEnv renders one Environment= assignment as a single double-quoted
// word, so spaces, quotes and backslashes in the value survive.
func quoteEnv(e EnvVar) string {
	v := e.Value
	if !e.Specifiers {
		v = escapeSpecifiers(v)
	}
	return quoteWord(e.Name+"="+v, true)
}

// execLine renders argv for ExecStart=. The program path is written without
// '$' escaping (systemd does not expand variables in it; Validate rejects a
// '$' there), arguments with '$' doubled.
func execLine(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		a = escapeSpecifiers(a)
		if i > 0 {
			a = strings.ReplaceAll(a, "$", "$$")
		}
		words[i] = quoteWord(a, false)
	}
	return strings.Join(words, " ")
}

// quoteWord wraps s in double quotes, escaping '\' and '"', when always is
// set or when s holds anything systemd's word splitter would act on:
// whitespace, quotes, backslashes, ';' (a lone one separates commands),
// '%' or '$' (quoted only for readability; their escapes are already in s),
// or s is empty.
func quoteWord(s string, always bool) string {
	if !always && s != "" && !strings.ContainsAny(s, " \t\"'\\;%$") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
