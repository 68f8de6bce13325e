package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/openparachute/parachute/internal/atomicfile"
	"github.com/openparachute/parachute/internal/secfile"
)

// LegacyTunnelsFile is the TypeScript hub's record of its Cloudflare
// connectors (reference lifecycle.md §6.8), kept in the config root.
const LegacyTunnelsFile = "cloudflared-state.json"

// LegacyTunnel is one tunnel in the reference's cloudflared-state.json.
type LegacyTunnel struct {
	PID            int    `json:"pid"`
	UUID           string `json:"tunnelUuid"`
	Name           string `json:"tunnelName"`
	Hostname       string `json:"hostname"`
	ConfigPath     string `json:"configPath"`
	ServiceManaged bool   `json:"serviceManaged"`
}

// LegacyTunnels lists the tunnels the reference's cloudflared-state.json
// records that expose-state.json does not: connectors a previous hub
// started (a unit with our unit name, or a detached process) that may
// still route this hub to the internet while nothing here knows of them.
// It only reads; a missing file gives none. Both of the reference's
// versions are read (v1: one record; v2: {tunnels: {name: record}}).
func LegacyTunnels(root string) ([]LegacyTunnel, error) {
	all, err := LegacyRecords(root)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	if st, err := Load(root); err == nil {
		if r := st.Providers[Cloudflare]; r != nil {
			for name := range r.Tunnels {
				known[name] = true
			}
		}
	}
	var out []LegacyTunnel
	for _, t := range all {
		if t.Name != "" && !known[t.Name] {
			out = append(out, t)
		}
	}
	return out, nil
}

// LegacyRecords lists every tunnel of the reference's
// cloudflared-state.json, sorted by name, whether or not expose-state.json
// records it too. A missing file gives none.
func LegacyRecords(root string) ([]LegacyTunnel, error) {
	path := filepath.Join(root, LegacyTunnelsFile)
	raw, v1, err := readLegacy(path)
	if err != nil || raw == nil {
		return nil, err
	}
	var all []LegacyTunnel
	for key, b := range raw {
		var t LegacyTunnel
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, &MalformedError{path, fmt.Sprintf("tunnels[%q]: %v", key, err)}
		}
		if !v1 && t.Name == "" {
			t.Name = key
		}
		all = append(all, t)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, nil
}

// readLegacy reads cloudflared-state.json as raw records by tunnel name
// (a v1 file's one record under its tunnelName); nil, nil when missing.
func readLegacy(path string) (raw map[string]json.RawMessage, v1 bool, err error) {
	b, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var head struct {
		Version int                        `json:"version"`
		Tunnels map[string]json.RawMessage `json:"tunnels"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, false, &MalformedError{path, "not JSON: " + err.Error()}
	}
	switch head.Version {
	case 1:
		var t LegacyTunnel
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, false, &MalformedError{path, err.Error()}
		}
		return map[string]json.RawMessage{t.Name: b}, true, nil
	case 2:
		if head.Tunnels == nil {
			head.Tunnels = map[string]json.RawMessage{}
		}
		return head.Tunnels, false, nil
	}
	return nil, false, &MalformedError{path, fmt.Sprintf("unknown version %d", head.Version)}
}

// ForgetLegacy removes the named tunnels from the reference's
// cloudflared-state.json once this hub has taken them over (their
// connectors stopped, the tunnel recorded in expose-state.json), so
// neither status nor a later expose acts on a record of a process that
// is gone. The other tunnels are kept field for field, in the reference's
// v2 form (which the TypeScript hub reads back); the file is removed when
// none remain. A missing file is not an error.
func ForgetLegacy(root string, names ...string) error {
	path := filepath.Join(root, LegacyTunnelsFile)
	raw, _, err := readLegacy(path)
	if err != nil || raw == nil {
		return err
	}
	n := len(raw)
	for _, name := range names {
		delete(raw, name)
	}
	if len(raw) == n {
		return nil
	}
	if len(raw) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", path, err)
		}
		return nil
	}
	b, err := json.MarshalIndent(struct {
		Version int                        `json:"version"`
		Tunnels map[string]json.RawMessage `json:"tunnels"`
	}{2, raw}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

// readSmall reads a state file without following a symlink, refusing one
// over maxFile.
func readSmall(path string) ([]byte, error) {
	b, err := secfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > maxFile {
		return nil, &MalformedError{path, "larger than 1 MiB"}
	}
	return b, nil
}
