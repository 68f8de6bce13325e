package servicemgr

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ExecMainCode values (si_code of waitid(2)): CLD_EXITED is a normal exit,
// with ExecMainStatus its exit status; CLD_KILLED and CLD_DUMPED a death by
// the signal whose number ExecMainStatus then holds. 0: not exited.
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// State implements Manager from the unit's D-Bus properties: LoadState,
// ActiveState, SubState, UnitFileState, LoadError and FragmentPath on the
// Unit interface;
// MainPID, NRestarts, ExecMainStartTimestamp, ExecMainCode/Status and
// Result on the Service interface.
func (m *Systemd) State(ctx context.Context, name, path string) (State, error) {
	st := State{Kind: m.Kind(), Path: path, Installed: fileExists(path)}
	c, err := m.connect(ctx)
	if err != nil {
		return st, err
	}
	defer c.Close()
	up, err := c.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return st, fmt.Errorf("reading %s: %w", name, err)
	}
	st.LoadState = str(up["LoadState"])
	st.ActiveState = str(up["ActiveState"])
	st.SubState = str(up["SubState"])
	st.UnitFileState = str(up["UnitFileState"])
	if st.LoadState != "loaded" && st.LoadState != "not-found" {
		st.Detail = loadError(up)
	}
	// The file systemd actually loaded wins over the conventional path: a
	// distribution package puts its unit in /lib/systemd/system, and status
	// must not call that "not installed".
	if fp := str(up["FragmentPath"]); fp != "" && fp != path && fileExists(fp) {
		st.Path, st.Installed = fp, true
	}
	// A unit systemd cannot find still answers, with LoadState "not-found"
	// and no useful service properties (systemd#1105).
	if st.LoadState == "not-found" || !strings.HasSuffix(name, ".service") {
		return st, nil
	}
	sp, err := c.GetUnitTypePropertiesContext(ctx, name, "Service")
	if err != nil {
		return st, fmt.Errorf("reading service properties of %s: %w", name, err)
	}
	fillServiceState(&st, sp)
	return st, nil
}

// fillServiceState copies the Service interface's properties into st.
func fillServiceState(st *State, sp map[string]any) {
	st.MainPID = num(sp["MainPID"])
	st.NRestarts = num(sp["NRestarts"])
	st.Result = str(sp["Result"])
	if us := num(sp["ExecMainStartTimestamp"]); us > 0 {
		st.StartedAt = time.UnixMicro(int64(us))
	}
	if num(sp["ExecMainExitTimestamp"]) == 0 {
		return // running, or never ran
	}
	switch num(sp["ExecMainCode"]) {
	case cldExited:
		code := num(sp["ExecMainStatus"])
		st.LastExitCode = &code
	case cldKilled, cldDumped:
		st.LastExitSignal = num(sp["ExecMainStatus"])
	}
}

// str reads a D-Bus string property; anything else is "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

// num reads any D-Bus integer property as int.
func num(v any) int {
	switch n := v.(type) {
	case uint32:
		return int(n)
	case int32:
		return int(n)
	case uint64:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	}
	return 0
}

// loadError returns the message of the unit's LoadError property, a (ss)
// pair of D-Bus error name and message, empty when the unit loaded.
func loadError(props map[string]any) string {
	parts, _ := props["LoadError"].([]any)
	if len(parts) != 2 {
		return ""
	}
	name, _ := parts[0].(string)
	msg, _ := parts[1].(string)
	if name == "" {
		return ""
	}
	if msg == "" {
		return name
	}
	return msg
}

// firstLine returns the first non-empty line of s, trimmed.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}
