package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"

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
	path := filepath.Join(root, LegacyTunnelsFile)
	b, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var head struct {
		Version int                     `json:"version"`
		Tunnels map[string]LegacyTunnel `json:"tunnels"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, &MalformedError{path, "not JSON: " + err.Error()}
	}
	var all []LegacyTunnel
	switch head.Version {
	case 1:
		var t LegacyTunnel
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, &MalformedError{path, err.Error()}
		}
		all = append(all, t)
	case 2:
		for _, t := range head.Tunnels {
			all = append(all, t)
		}
	default:
		return nil, &MalformedError{path, fmt.Sprintf("unknown version %d", head.Version)}
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
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
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
