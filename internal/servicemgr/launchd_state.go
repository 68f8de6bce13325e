package servicemgr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"howett.net/plist"
)

// printInfo is what State reads from `launchctl print <target>`.
type printInfo struct {
	State      string // "running", "not running", "spawn scheduled", ...
	PID        int
	Runs       int
	LastExit   *int
	StdoutPath string
}

// parsePrint reads the top-level keys of `launchctl print` output. The format
// is for humans, not a stable API, so only the few keys that have been
// stable for years are read, and only at the top level: nested blocks
// (endpoints, event triggers) have their own "state = ..." lines.
func parsePrint(out string) printInfo {
	var pi printInfo
	depth := 0
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "}") {
			depth--
			continue
		}
		if depth == 1 {
			if k, v, ok := strings.Cut(line, " = "); ok {
				pi.set(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		if strings.HasSuffix(line, "{") {
			depth++
		}
	}
	return pi
}

func (pi *printInfo) set(k, v string) {
	switch k {
	case "state":
		pi.State = v
	case "pid":
		pi.PID, _ = strconv.Atoi(v)
	case "runs":
		pi.Runs, _ = strconv.Atoi(v)
	case "stdout path":
		pi.StdoutPath = v
	case "last exit code":
		// "1", "78: EX_CONFIG", or "(never exited)".
		num, _, _ := strings.Cut(v, ":")
		if n, err := strconv.Atoi(strings.TrimSpace(num)); err == nil {
			pi.LastExit = &n
		}
	}
}

// stateFromPrint maps launchd's words onto State's systemd-like ones.
func stateFromPrint(st *State, out string) {
	pi := parsePrint(out)
	st.LoadState = "loaded"
	st.SubState = pi.State
	st.MainPID = pi.PID
	st.LastExitCode = pi.LastExit
	if pi.Runs > 1 {
		st.NRestarts = pi.Runs - 1
	}
	switch {
	case pi.State == "running":
		st.ActiveState = "active"
	case pi.State == "spawn scheduled" || pi.State == "xpcproxy":
		st.ActiveState = "activating"
	case pi.State == "":
		st.ActiveState = "unknown"
		st.Detail = strings.TrimSpace(out)
	case pi.LastExit != nil && *pi.LastExit != 0:
		st.ActiveState = "failed"
	default:
		st.ActiveState = "inactive"
	}
}

// State implements Manager from `launchctl print`; a job that is not loaded
// is "not-loaded"/"inactive". The start time comes from `ps -o lstart=`
// because print does not show it.
func (m *Launchd) State(ctx context.Context, name, path string) (State, error) {
	st := State{Kind: m.Kind(), Path: path, Installed: fileExists(path)}
	out, loaded, err := m.print(ctx, name)
	if err != nil {
		return st, err
	}
	if !loaded {
		st.LoadState, st.ActiveState = "not-loaded", "inactive"
		return st, nil
	}
	stateFromPrint(&st, out)
	if st.MainPID > 0 {
		st.StartedAt = m.processStart(ctx, st.MainPID)
	}
	return st, nil
}

// processStart asks ps when pid started; zero when it cannot tell.
func (m *Launchd) processStart(ctx context.Context, pid int) time.Time {
	stdout, _, code, err := m.opts.Runner(ctx, "ps", "-o", "lstart=", "-p", strconv.Itoa(pid))
	if err != nil || code != 0 {
		return time.Time{}
	}
	// ps prints lstart like ctime(3), in local time: "Wed Nov 26 10:04:05 2026".
	t, err := time.ParseInLocation("Mon Jan _2 15:04:05 2006", strings.Join(strings.Fields(stdout), " "), time.Local)
	if err != nil {
		t, err = time.ParseInLocation("Mon Jan 2 15:04:05 2006", strings.Join(strings.Fields(stdout), " "), time.Local)
	}
	if err != nil {
		return time.Time{}
	}
	return t
}

// JournalTail implements Manager. launchd keeps no journal: the job's output
// goes to its StandardOutPath, found in `launchctl print` when the job is
// loaded, else in the plist at the conventional path.
func (m *Launchd) JournalTail(ctx context.Context, name string, n int) ([]string, error) {
	if n <= 0 {
		n = 50
	}
	logPath := ""
	if out, loaded, err := m.print(ctx, name); err == nil && loaded {
		logPath = parsePrint(out).StdoutPath
	}
	if logPath == "" {
		p, err := plistStdoutPath(m.plistPath(name))
		if err != nil {
			return nil, err
		}
		logPath = p
	}
	if logPath == "" {
		return nil, fmt.Errorf("%s has no StandardOutPath, so its output is not kept", name)
	}
	return tailFile(logPath, n)
}

// plistStdoutPath reads StandardOutPath from the plist at path.
func plistStdoutPath(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("reading %s: %w", path, ErrNotInstalled)
		}
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	var p struct {
		StandardOutPath string `plist:"StandardOutPath"`
	}
	if _, err := plist.Unmarshal(data, &p); err != nil {
		return "", fmt.Errorf("parsing %s: %w", path, err)
	}
	return p.StandardOutPath, nil
}

// tailMax bounds how much of a log file tailFile reads.
const tailMax = 1 << 20

// tailFile returns the last n lines of the file at path, reading at most its
// last tailMax bytes (a first partial line is dropped).
func tailFile(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening log %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading log %s: %w", path, err)
	}
	off := fi.Size() - tailMax
	if off < 0 {
		off = 0
	}
	data, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return nil, fmt.Errorf("reading log %s: %w", path, err)
	}
	s := string(data)
	if off > 0 {
		if _, rest, ok := strings.Cut(s, "\n"); ok {
			s = rest
		}
	}
	return lastLines(s, n), nil
}
