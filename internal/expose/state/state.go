// Package state reads and writes the exposure state files under the config
// root: expose-state.json (what `parachute expose` set up, one record per
// provider) and expose-last-provider.json (the picker's remembered choice).
//
// It is its own package, below both the CLI's expose code and the hub, so
// the hub can read the exposed origin without linking the service manager.
//
// The reference keeps ONE record in expose-state.json that both Tailscale
// and Cloudflare write, so `off` for one provider clobbers the other
// (reference lifecycle.md §9.11). Here each provider has its own record,
// in the reference's record schema (§6.6). A reference file (a bare record
// at the top level) is read as the provider that wrote it and converted on
// the next write. A malformed file is reported with the fix and never
// rewritten: Load returns a *MalformedError and every writer refuses to run
// over it.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/atomicfile"
	"github.com/openparachute/parachute/internal/secfile"
)

// File names under the config root.
const (
	StateFile        = "expose-state.json"
	LastProviderFile = "expose-last-provider.json"
)

// Provider names an exposure provider.
type Provider string

// The providers.
const (
	Tailscale  Provider = "tailscale"
	Cloudflare Provider = "cloudflare"
)

// Layers.
const (
	LayerTailnet = "tailnet"
	LayerPublic  = "public"
)

// Entry is one thing the provider routes: the hub's plan is exactly one
// {proxy, "/", http://127.0.0.1:<port>/, hub} entry.
type Entry struct {
	Kind    string `json:"kind"`
	Mount   string `json:"mount"`
	Target  string `json:"target"`
	Service string `json:"service"`
}

// Tunnel is one Cloudflare tunnel this machine runs a connector for.
type Tunnel struct {
	UUID       string `json:"tunnelUuid"`
	Name       string `json:"tunnelName"`
	Hostname   string `json:"hostname"`
	ConfigPath string `json:"configPath"`
	// Unit is the connector's managed service name (systemd unit or
	// launchd label); empty when none was installed.
	Unit      string `json:"unit,omitempty"`
	System    bool   `json:"system,omitempty"`
	StartedAt string `json:"startedAt"`
	// DNSRouted records that we made the DNS route, so off removes it.
	DNSRouted bool `json:"dnsRouted,omitempty"`
	// Connector is ConnectorHub when no service manager was available
	// and the running hub supervises the connector (package
	// expose/connector); "" when Unit runs it.
	Connector string `json:"connector,omitempty"`
	// Cloudflared is the absolute path of the cloudflared the connector
	// runs, resolved when the tunnel was exposed.
	Cloudflared string `json:"cloudflared,omitempty"`
}

// ConnectorHub is Tunnel.Connector for a connector the hub runs.
const ConnectorHub = "hub"

// Record is one provider's exposure, in the reference's schema (§6.6),
// plus the Cloudflare tunnels for the cloudflare record.
type Record struct {
	Version       int     `json:"version"`
	Layer         string  `json:"layer"`
	Mode          string  `json:"mode"`
	CanonicalFQDN string  `json:"canonicalFqdn"`
	Port          int     `json:"port"`
	Funnel        bool    `json:"funnel"`
	Entries       []Entry `json:"entries"`
	HubOrigin     string  `json:"hubOrigin,omitempty"`
	// HubPort is the hub port the entries target (Tailscale's Port is the
	// https port, 443).
	HubPort int               `json:"hubPort,omitempty"`
	Tunnels map[string]Tunnel `json:"tunnels,omitempty"`
}

// Origin is the origin this record makes the hub reachable at: its
// hubOrigin, else https://<canonicalFqdn>.
func (r *Record) Origin() string {
	if r == nil {
		return ""
	}
	if r.HubOrigin != "" {
		return strings.TrimRight(r.HubOrigin, "/")
	}
	if r.CanonicalFQDN != "" {
		return "https://" + r.CanonicalFQDN
	}
	return ""
}

// State is the whole of expose-state.json.
type State struct {
	Version   int                  `json:"version"`
	Providers map[Provider]*Record `json:"providers"`
}

// Version is the file format written here; 1 is the reference's single
// record.
const Version = 2

// MalformedError is a state file that cannot be read. Its message names the
// file, what is wrong, and what to do; nothing rewrites the file.
type MalformedError struct {
	Path   string
	Reason string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("%s is malformed: %s; fix it, or remove it if nothing is exposed (check `tailscale serve status` and `cloudflared tunnel list`), then re-run", e.Path, e.Reason)
}

// ErrMalformed matches every *MalformedError with errors.Is.
var ErrMalformed = errors.New("malformed expose state")

// Is makes errors.Is(err, ErrMalformed) hold.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// maxFile caps what is read: a state file is a few hundred bytes.
const maxFile = 1 << 20

// Load reads expose-state.json under root. A missing file is an empty
// State and no error.
func Load(root string) (*State, error) {
	path := filepath.Join(root, StateFile)
	b, err := secfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: Version, Providers: map[Provider]*Record{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxFile {
		return nil, &MalformedError{path, "larger than 1 MiB"}
	}
	return Parse(path, b)
}

// Parse decodes a state file's bytes; path is only for messages.
func Parse(path string, b []byte) (*State, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, &MalformedError{path, "not JSON: " + err.Error()}
	}
	st := &State{Version: Version, Providers: map[Provider]*Record{}}
	switch {
	case head.Version == nil:
		return nil, &MalformedError{path, "no version field"}
	case *head.Version == 1:
		// The reference's single shared record: the mode says who wrote it.
		var r Record
		if err := strictDecode(b, &r); err != nil {
			return nil, &MalformedError{path, err.Error()}
		}
		if err := r.validate(); err != nil {
			return nil, &MalformedError{path, err.Error()}
		}
		p := Tailscale
		if r.Mode == "subdomain" {
			p = Cloudflare
		}
		st.Providers[p] = &r
	case *head.Version == Version:
		if err := strictDecode(b, st); err != nil {
			return nil, &MalformedError{path, err.Error()}
		}
		for p, r := range st.Providers {
			if p != Tailscale && p != Cloudflare {
				return nil, &MalformedError{path, fmt.Sprintf("unknown provider %q", p)}
			}
			if r == nil {
				return nil, &MalformedError{path, fmt.Sprintf("provider %q has a null record", p)}
			}
			if err := r.validate(); err != nil {
				return nil, &MalformedError{path, fmt.Sprintf("%s: %v", p, err)}
			}
		}
		if st.Providers == nil {
			st.Providers = map[Provider]*Record{}
		}
	default:
		return nil, &MalformedError{path, fmt.Sprintf("unknown version %d (this parachute writes %d)", *head.Version, Version)}
	}
	return st, nil
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// validate applies the §6.6 schema.
func (r *Record) validate() error {
	switch {
	case r.Version != 1:
		return fmt.Errorf("record version %d, want 1", r.Version)
	case r.Layer != LayerTailnet && r.Layer != LayerPublic:
		return fmt.Errorf("layer %q is neither tailnet nor public", r.Layer)
	case r.Mode != "path" && r.Mode != "subdomain":
		return fmt.Errorf("mode %q is neither path nor subdomain", r.Mode)
	case r.CanonicalFQDN == "":
		return errors.New("canonicalFqdn is empty")
	case r.Port <= 0 || r.Port > 65535:
		return fmt.Errorf("port %d is not a port", r.Port)
	}
	for i, e := range r.Entries {
		switch {
		case e.Kind != "proxy" && e.Kind != "file":
			return fmt.Errorf("entries[%d].kind %q is neither proxy nor file", i, e.Kind)
		case !strings.HasPrefix(e.Mount, "/"):
			return fmt.Errorf("entries[%d].mount %q does not start with /", i, e.Mount)
		case e.Target == "" || e.Service == "":
			return fmt.Errorf("entries[%d] has an empty target or service", i)
		}
	}
	for k, t := range r.Tunnels {
		if t.Name != k || t.UUID == "" || t.Hostname == "" {
			return fmt.Errorf("tunnels[%q] needs tunnelName equal to its key, a tunnelUuid and a hostname", k)
		}
		if t.Connector != "" && t.Connector != ConnectorHub {
			return fmt.Errorf("tunnels[%q].connector %q is neither empty nor %q", k, t.Connector, ConnectorHub)
		}
	}
	return nil
}

// Save writes st to expose-state.json under root atomically, or removes the
// file when no provider is recorded. It refuses to run over a file Load
// cannot read (the operator must look at it first).
func Save(root string, st *State) error {
	path := filepath.Join(root, StateFile)
	if _, err := Load(root); errors.Is(err, ErrMalformed) {
		return err
	}
	if len(st.Providers) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", path, err)
		}
		return nil
	}
	st.Version = Version
	for _, r := range st.Providers {
		if err := r.validate(); err != nil {
			return fmt.Errorf("refusing to write an invalid exposure record: %w", err)
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

// Override is the origin an operator named with `expose --hub-origin` for a
// live exposure ("" when none did): it heads the origin precedence
// (origin.Inputs.Flag) for as long as that exposure is recorded. A record's
// hubOrigin that is just https://<canonicalFqdn> is the exposure's own
// origin (Cloudflare always records it, as the reference does), not an
// override. With several, the most preferred exposure's (Origins' order)
// wins.
func (st *State) Override() string {
	if st == nil {
		return ""
	}
	explicit := func(r *Record) string {
		if r == nil {
			return ""
		}
		o := strings.TrimRight(r.HubOrigin, "/")
		if o == "https://"+r.CanonicalFQDN {
			return ""
		}
		return o
	}
	for _, public := range []bool{true, false} {
		for _, p := range []Provider{Cloudflare, Tailscale} {
			if r := st.Providers[p]; r != nil && (r.Layer == LayerPublic) == public && explicit(r) != "" {
				return explicit(r)
			}
		}
	}
	return ""
}

// Origins lists the origins of the live exposures, most preferred first:
// a public exposure before a tailnet one, Cloudflare (the operator's own
// domain) before Tailscale.
func (st *State) Origins() []string {
	if st == nil {
		return nil
	}
	type ranked struct {
		rank   int
		origin string
	}
	var rs []ranked
	for p, r := range st.Providers {
		rank := 0
		if r.Layer != LayerPublic {
			rank += 2
		}
		if p != Cloudflare {
			rank++
		}
		if o := r.Origin(); o != "" {
			rs = append(rs, ranked{rank, o})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].rank < rs[j].rank })
	var out []string
	for _, r := range rs {
		out = append(out, r.origin)
	}
	return out
}

// LastProvider is expose-last-provider.json.
type LastProvider struct {
	Version   int      `json:"version"`
	Provider  Provider `json:"provider"`
	WrittenAt string   `json:"writtenAt"`
}

// LoadLastProvider returns the remembered provider, or "" when the file is
// missing, corrupt or names an unknown provider: it is only a hint for the
// picker's default (reference §0.1), so it is never an error.
func LoadLastProvider(root string) Provider {
	b, err := secfile.ReadFile(filepath.Join(root, LastProviderFile))
	if err != nil || len(b) > maxFile {
		return ""
	}
	var lp LastProvider
	if json.Unmarshal(b, &lp) != nil || lp.Version != 1 {
		return ""
	}
	if lp.Provider == Tailscale || lp.Provider == Cloudflare {
		return lp.Provider
	}
	return ""
}

// SaveLastProvider remembers p for the picker.
func SaveLastProvider(root string, p Provider, now time.Time) error {
	b, err := json.Marshal(LastProvider{Version: 1, Provider: p, WrittenAt: now.UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(root, LastProviderFile), append(b, '\n'), 0o600)
}

// ValidTunnelName reports whether n is 1–64 characters of [A-Za-z0-9_-]
// starting with a letter or digit. A tunnel name goes into a unit name, a
// file path and cloudflared's argv, so nothing else may pass; expose (when
// it names a tunnel) and the hub's connector (when it reads the state
// file) both apply this one rule.
func ValidTunnelName(n string) bool {
	if n == "" || len(n) > 64 || n[0] == '-' || n[0] == '_' {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
