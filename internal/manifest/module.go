package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/openparachute/parachute/internal/lazyre"
	"github.com/openparachute/parachute/internal/mounts"
)

// Module is a module's static manifest, <installDir>/.parachute/module.json,
// shipped by the module's author. Fields this version does not know are kept
// in Extra.
type Module struct {
	// Name is the module's short name and its services.json row name.
	Name string `json:"name"`
	// ManifestName is the user-facing manifest name (often equal to Name).
	ManifestName string `json:"manifestName,omitempty"`
	DisplayName  string `json:"displayName,omitempty"`
	Tagline      string `json:"tagline,omitempty"`
	// Port is the module's default port; 0 asks the installer to pick one.
	Port int `json:"port"`
	// Paths are the mounts under the hub origin, each starting with "/".
	Paths []string `json:"paths,omitempty"`
	// Health is the liveness path, starting with "/".
	Health string `json:"health,omitempty"`
	// StartCmd is the argv that runs the module, relative to the install
	// directory. It is never run through a shell.
	StartCmd []string `json:"startCmd,omitempty"`
	// ManagementURL and UIURL are a path starting with "/" or an http(s) URL.
	ManagementURL string `json:"managementUrl,omitempty"`
	UIURL         string `json:"uiUrl,omitempty"`
	StripPrefix   *bool  `json:"stripPrefix,omitempty"`
	// Scopes are the OAuth scopes the module defines.
	Scopes *ModuleScopes `json:"scopes,omitempty"`
	// Dependencies name other modules this one wires to, keyed by short name.
	Dependencies map[string]ModuleDependency `json:"dependencies,omitempty"`
	// ConfigSchema is the config portal's form description, kept verbatim.
	ConfigSchema json.RawMessage `json:"configSchema,omitempty"`

	// Extra holds members this version does not know.
	Extra map[string]json.RawMessage `json:"-"`
}

// ModuleScopes is module.json's "scopes" block.
type ModuleScopes struct {
	// Defines are the scopes the module owns, each "<name>:<verb>".
	Defines []string `json:"defines,omitempty"`
}

// ModuleDependency is one entry of module.json's "dependencies".
type ModuleDependency struct {
	// Optional means the module installs fine without the dependency.
	Optional bool `json:"optional,omitempty"`
	// Scopes are the scopes wanted on the dependency for auto-wired tokens.
	Scopes []string `json:"scopes,omitempty"`
}

// moduleNameRE is what a module name must look like: it becomes a directory
// under the config root and a URL segment, so no dots, slashes or capitals.
var moduleNameRE = &lazyre.Regexp{Expr: `^[a-z0-9][a-z0-9-]*$`}

// ModulePath returns <installDir>/.parachute/module.json.
func ModulePath(installDir string) string {
	return filepath.Join(installDir, ".parachute", "module.json")
}

// LoadModule reads and validates <installDir>/.parachute/module.json. A
// missing file is an error wrapping fs.ErrNotExist; a malformed one is a
// *ManifestError naming the file and the field.
func LoadModule(installDir string) (*Module, error) {
	path := ModulePath(installDir)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return ParseModule(data, path)
}

// ParseModule decodes and validates module.json contents; path only names
// the file in errors.
func ParseModule(data []byte, path string) (*Module, error) {
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, &ManifestError{Path: path, Msg: "invalid JSON " + jsonPosition(data, err), Err: err}
	}
	m, err := decodeModule(raw)
	if err == nil {
		err = m.Validate()
	}
	if err != nil {
		return nil, &ManifestError{Path: path, Msg: err.Error(), Err: err}
	}
	return m, nil
}

func decodeModule(raw json.RawMessage) (*Module, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("top level %w", err)
	}
	d := &fields{m: obj}
	m := &Module{
		Name:          d.str("name", true),
		ManifestName:  d.str("manifestName", false),
		DisplayName:   d.str("displayName", false),
		Tagline:       d.str("tagline", false),
		Port:          d.integer("port", false, "0..65535"),
		Paths:         d.strings("paths", false),
		Health:        d.str("health", false),
		ManagementURL: d.str("managementUrl", false),
		UIURL:         d.str("uiUrl", false),
		StripPrefix:   d.boolPtr("stripPrefix"),
		Extra:         d.extra(jsonNames(reflect.TypeOf(Module{}))),
	}
	if raw, ok := d.get("startCmd"); ok && d.err == nil {
		// Why reject a string: the reference never ran startCmd through a
		// shell, and quoting rules are where injection and surprises live.
		if jsonKind(raw) == "a string" {
			d.fail("startCmd", "must be an array of strings (argv), got a string; "+
				`write e.g. ["bun", "server.ts"] — commands are never run through a shell`)
		} else {
			m.StartCmd = d.strings("startCmd", false)
		}
	}
	if raw, ok := d.get("scopes"); ok && d.err == nil {
		so, err := decodeObject(raw)
		if err != nil {
			d.fail("scopes", "%v", err)
		} else {
			sd := &fields{m: so, prefix: "scopes."}
			m.Scopes = &ModuleScopes{Defines: sd.strings("defines", false)}
			d.err = sd.err
		}
	}
	if raw, ok := d.get("dependencies"); ok && d.err == nil {
		m.Dependencies, d.err = decodeDependencies(raw)
	}
	if raw, ok := d.get("configSchema"); ok && d.err == nil {
		if jsonKind(raw) != "an object" {
			d.fail("configSchema", "must be an object, got %s", jsonKind(raw))
		}
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			m.ConfigSchema = buf.Bytes()
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

func decodeDependencies(raw json.RawMessage) (map[string]ModuleDependency, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return nil, &fieldError{Field: "dependencies", Msg: err.Error()}
	}
	out := make(map[string]ModuleDependency, len(obj))
	for k, v := range obj {
		dm, err := decodeObject(v)
		if err != nil {
			return nil, &fieldError{Field: fmt.Sprintf("dependencies[%q]", k), Msg: err.Error()}
		}
		d := &fields{m: dm, prefix: fmt.Sprintf("dependencies[%q].", k)}
		var dep ModuleDependency
		if b := d.boolPtr("optional"); b != nil {
			dep.Optional = *b
		}
		dep.Scopes = d.strings("scopes", false)
		if d.err != nil {
			return nil, d.err
		}
		out[k] = dep
	}
	return out, nil
}

// Validate checks module.json's rules: a safe name, a port of 0 or
// 1..65535, paths that internal/mounts accepts for this module, health
// starting with "/", a non-empty argv of
// non-empty strings, URL fields that are a path or an http(s) URL, and
// scopes namespaced by the module's own name.
func (m *Module) Validate() error {
	if !moduleNameRE.MatchString(m.Name) {
		return &fieldError{Field: "name", Msg: fmt.Sprintf(
			"must be lowercase letters, digits and hyphens, starting with a letter or digit, got %q", m.Name)}
	}
	if m.Port < 0 || m.Port > 65535 {
		return &fieldError{Field: "port", Msg: fmt.Sprintf("must be 0 (unassigned) or 1..65535, got %d", m.Port)}
	}
	for i, p := range m.Paths {
		// Why: the proxy hands a mount's requests, cookies and Authorization
		// headers to the module, so a mount on a hub route, "/", or a
		// non-canonical path is refused before anything is installed.
		if err := mounts.CheckPath(ShortName(m.Name), p); err != nil {
			return &fieldError{Field: fmt.Sprintf("paths[%d]", i), Msg: fmt.Sprintf(
				"is refused (%v); mount the module on a path of its own, e.g. %q", err, "/"+m.Name)}
		}
	}
	if m.Health != "" && !strings.HasPrefix(m.Health, "/") {
		return &fieldError{Field: "health", Msg: fmt.Sprintf("must start with \"/\", got %q", m.Health)}
	}
	if m.StartCmd != nil && len(m.StartCmd) == 0 {
		return &fieldError{Field: "startCmd", Msg: "must be a non-empty array when present"}
	}
	for i, a := range m.StartCmd {
		if a == "" || strings.ContainsRune(a, 0) {
			return &fieldError{Field: fmt.Sprintf("startCmd[%d]", i), Msg: "must be a non-empty string without NUL bytes"}
		}
	}
	for _, f := range []struct{ name, v string }{{"managementUrl", m.ManagementURL}, {"uiUrl", m.UIURL}} {
		if err := checkPathOrURL(f.v); err != nil {
			return &fieldError{Field: f.name, Msg: err.Error()}
		}
	}
	if m.Scopes != nil {
		for i, s := range m.Scopes.Defines {
			// Why: a module must not define scopes in another module's
			// namespace (a third party declaring vault:read would squat on a
			// grant the user trusts for vault).
			ns, verb, ok := strings.Cut(s, ":")
			if !ok || ns != m.Name || verb == "" {
				return &fieldError{Field: fmt.Sprintf("scopes.defines[%d]", i),
					Msg: fmt.Sprintf("must be %q, got %q", m.Name+":<verb>", s)}
			}
		}
	}
	if _, ok := m.Dependencies[""]; ok {
		return &fieldError{Field: "dependencies", Msg: "keys must be non-empty"}
	}
	return nil
}

// checkPathOrURL accepts "" (absent), a path starting with a single "/", or
// an absolute http(s) URL.
func checkPathOrURL(v string) error {
	if v == "" {
		return nil
	}
	// Why reject "//host": it starts with "/" but resolves to another origin,
	// which would turn the hub's discovery page into an open redirect.
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New(`must be a path starting with "/" or an http(s) URL, got ` + fmt.Sprintf("%q", v))
	}
	return nil
}

// MarshalJSON writes the known fields, then the unknown ones sorted.
func (m Module) MarshalJSON() ([]byte, error) {
	type plain Module
	return marshalWithExtra(plain(m), m.Extra)
}

// UnmarshalJSON decodes module.json, checking member types but not the
// rules (see Validate).
func (m *Module) UnmarshalJSON(data []byte) error {
	v, err := decodeModule(data)
	if err != nil {
		return err
	}
	*m = *v
	return nil
}
