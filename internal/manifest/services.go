package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/openparachute/parachute/internal/secfile"
)

// File is the whole services.json registry.
type File struct {
	// Services are the rows, in file order.
	Services []Service
	// Extra holds top-level members other than "services", kept verbatim.
	Extra map[string]json.RawMessage
	// Warnings are the rows a read dropped or repaired (retired modules,
	// short-name twins, malformed lastStartError), as sentences naming the
	// file. They are never written.
	Warnings []string
}

// ManifestError says a manifest file is malformed: bad JSON, a bad row, or a
// rule (such as unique ports) broken. Callers print it as
// "services.json is malformed: <Error()>".
type ManifestError struct {
	// Path is the file the error is about.
	Path string
	// Msg says what is wrong and where (JSON position, row, field).
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Error returns "<path>: <msg>".
func (e *ManifestError) Error() string { return e.Path + ": " + e.Msg }

// Unwrap returns the underlying error.
func (e *ManifestError) Unwrap() error { return e.Err }

// retiredModules are row names dropped on read, with when and what replaces them.
var retiredModules = map[string]struct{ at, replacement string }{
	"agent":           {"2026-05-20", "parachute-surface or parachute-runner (depending on use case)"},
	"parachute-agent": {"2026-05-20", "parachute-surface or parachute-runner (depending on use case)"},
	"app":             {"2026-05-27", "parachute-surface (renamed from parachute-app: parachute install surface)"},
	"parachute-app":   {"2026-05-27", "parachute-surface (renamed from parachute-app: parachute install surface)"},
}

// Load reads services.json strictly. A missing file is an empty registry
// (nothing is created). Malformed JSON, a bad row or a duplicate port is a
// *ManifestError naming the file, the position or row, and the field.
// Retired rows and short-name twins are dropped and reported in
// File.Warnings. Load never writes.
func Load(path string) (*File, error) {
	data, err := secfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return Parse(data, path)
}

// LoadLenient reads services.json for hot paths that must keep going: an
// unreadable or unparsable file is an empty registry plus a warning, a bad
// row is skipped with a warning, and of two rows on one port the first
// wins. The warnings are also in File.Warnings. LoadLenient never writes.
func LoadLenient(path string) (*File, []string) {
	data, err := secfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{}, nil
	}
	if err != nil {
		w := fmt.Sprintf("%s: unreadable, treating it as empty: %v", path, err)
		return &File{Warnings: []string{w}}, []string{w}
	}
	f, err := parse(data, path, true)
	if err != nil {
		w := fmt.Sprintf("%v (treating it as empty)", err)
		return &File{Warnings: []string{w}}, []string{w}
	}
	return f, f.Warnings
}

// Parse decodes services.json contents strictly, exactly as Load does; path
// only names the file in errors and warnings.
func Parse(data []byte, path string) (*File, error) {
	return parse(data, path, false)
}

// rawRow is a row before decoding, with its index in the file.
type rawRow struct {
	index int
	raw   json.RawMessage
	name  string  // "" unless the row has a string name
	port  float64 // 0 unless the row has a numeric port
}

func (r rawRow) label() string {
	if r.name != "" {
		return fmt.Sprintf("services[%d] (%q)", r.index, r.name)
	}
	return fmt.Sprintf("services[%d]", r.index)
}

func parse(data []byte, path string, lenient bool) (*File, error) {
	top, rows, err := splitTop(data, path)
	if err != nil {
		return nil, err
	}
	f := &File{Extra: (&fields{m: top}).extra(map[string]bool{"services": true})}
	warnf := func(format string, args ...any) {
		f.Warnings = append(f.Warnings, path+": "+fmt.Sprintf(format, args...))
	}
	rows = dropRetired(rows, warnf)
	rows = dropShortNameTwins(rows, warnf)

	labels := map[int]string{} // index in f.Services → row label
	for _, r := range rows {
		s, warn, err := decodeService(r.raw)
		if err == nil {
			err = s.Validate()
		}
		if err != nil {
			if !lenient {
				return nil, &ManifestError{Path: path, Msg: fmt.Sprintf("%s: %v", r.label(), err), Err: err}
			}
			warnf("skipping bad entry %s: %v", r.label(), err)
			continue
		}
		if warn != "" {
			warnf("%s: %s", r.label(), warn)
		}
		labels[len(f.Services)] = r.label()
		f.Services = append(f.Services, s)
	}

	if !lenient {
		if err := checkPorts(f.Services); err != nil {
			return nil, &ManifestError{Path: path, Msg: err.Error()}
		}
		return f, nil
	}
	kept := f.Services[:0]
	for i, s := range f.Services {
		if err := checkPorts(append(kept, s)); err != nil {
			warnf("skipping %s: %v", labels[i], err)
			continue
		}
		kept = append(kept, s)
	}
	f.Services = kept
	return f, nil
}

// splitTop checks the top level and returns its members and the raw rows.
func splitTop(data []byte, path string) (map[string]json.RawMessage, []rawRow, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, &ManifestError{Path: path, Msg: "file is empty (want {\"services\": [...]})"}
	}
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, &ManifestError{Path: path, Msg: "invalid JSON " + jsonPosition(data, err), Err: err}
	}
	top, err := decodeObject(raw)
	if err != nil {
		return nil, nil, &ManifestError{Path: path, Msg: "top level " + err.Error(), Err: err}
	}
	svc, ok := top["services"]
	if !ok {
		return nil, nil, &ManifestError{Path: path, Msg: `"services" is missing (want {"services": [...]})`}
	}
	var items []json.RawMessage
	if jsonKind(svc) != "an array" || json.Unmarshal(svc, &items) != nil {
		return nil, nil, &ManifestError{Path: path, Msg: `"services" must be an array, got ` + jsonKind(svc)}
	}
	rows := make([]rawRow, len(items))
	for i, it := range items {
		rows[i] = rawRow{index: i, raw: it}
		// Probe name and port through a map: struct decoding would match
		// keys case-insensitively and disagree with decodeService.
		if m, err := decodeObject(it); err == nil {
			_ = json.Unmarshal(m["name"], &rows[i].name)
			_ = json.Unmarshal(m["port"], &rows[i].port)
		}
	}
	return top, rows, nil
}

// jsonPosition renders a decoding error with its line and column.
func jsonPosition(data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return "(" + err.Error() + ")"
	}
	// Offset counts the bytes read, including the offending one.
	pos := int(min(max(off-1, 0), int64(len(data))))
	line := 1 + bytes.Count(data[:pos], []byte("\n"))
	col := pos - (bytes.LastIndexByte(data[:pos], '\n') + 1) + 1
	return fmt.Sprintf("at line %d, column %d: %v", line, col, err)
}

// dropRetired removes rows of retired modules, one warning each.
func dropRetired(rows []rawRow, warnf func(string, ...any)) []rawRow {
	out := rows[:0:0]
	for _, r := range rows {
		ret, ok := retiredModules[r.name]
		if !ok {
			out = append(out, r)
			continue
		}
		warnf("dropping %s: module %q was retired on %s; replacement: %s. "+
			"If its daemon is still running, stop it (ps aux | grep %s, then kill <pid>).",
			r.label(), r.name, ret.at, ret.replacement, r.name)
	}
	return out
}

// dropShortNameTwins removes a row "X" when a row "parachute-X" claims the
// same port: the leftover of modules that once self-registered under their
// short name. A lone "X" row is kept.
func dropShortNameTwins(rows []rawRow, warnf func(string, ...any)) []rawRow {
	long := map[string]float64{} // name → port, for parachute-* rows with a port
	for _, r := range rows {
		if strings.HasPrefix(r.name, "parachute-") && r.port != 0 {
			long[r.name] = r.port
		}
	}
	out := rows[:0:0]
	for _, r := range rows {
		if r.name != "" && r.port != 0 && !strings.HasPrefix(r.name, "parachute-") {
			if p, ok := long["parachute-"+r.name]; ok && p == r.port {
				warnf("dropping %s: it duplicates %q on port %v (a legacy short-name row)", r.label(), "parachute-"+r.name, r.port)
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// checkPorts fails when two rows share a port, unless both are vault rows
// (one vault process serves every vault instance on one port).
func checkPorts(services []Service) error {
	first := map[int]string{}
	for _, s := range services {
		prev, ok := first[s.Port]
		if !ok {
			first[s.Port] = s.Name
			continue
		}
		if IsVaultName(prev) && IsVaultName(s.Name) {
			continue
		}
		return fmt.Errorf("duplicate port %d — claimed by both %q and %q. Edit services.json to give each service a unique port.", s.Port, prev, s.Name)
	}
	return nil
}

// Validate checks every row and the unique-port rule, as a strict read does.
func (f *File) Validate() error {
	for i := range f.Services {
		if err := f.Services[i].Validate(); err != nil {
			return fmt.Errorf("%s: %w", rawRow{index: i, name: f.Services[i].Name}.label(), err)
		}
	}
	return checkPorts(f.Services)
}

// Marshal renders the registry as services.json: 2-space indent, trailing
// newline, known fields in reference order and unknown ones sorted after.
func (f *File) Marshal() ([]byte, error) {
	type fileJSON struct {
		Services []Service `json:"services"`
	}
	svc := f.Services
	if svc == nil {
		svc = []Service{}
	}
	compact, err := marshalWithExtra(fileJSON{Services: svc}, f.Extra)
	if err != nil {
		return nil, fmt.Errorf("encoding services.json: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, fmt.Errorf("encoding services.json: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Find returns the row for a module short name: the row whose ShortName is
// short, or whose Name is short. The first match in file order wins.
func (f *File) Find(short string) (Service, bool) {
	if f == nil {
		return Service{}, false
	}
	for _, s := range f.Services {
		if ShortName(s.Name) == short || s.Name == short {
			return s, true
		}
	}
	return Service{}, false
}
