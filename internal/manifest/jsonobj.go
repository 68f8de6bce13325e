package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// encodeJSON marshals v compactly without HTML escaping, so "<", ">" and "&"
// in module paths and descriptions stay readable in the file.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// knownNames caches, per struct type, the JSON member names its tags claim.
var knownNames sync.Map // reflect.Type → map[string]bool

func jsonNames(t reflect.Type) map[string]bool {
	if v, ok := knownNames.Load(t); ok {
		return v.(map[string]bool)
	}
	names := map[string]bool{}
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			names[name] = true
		}
	}
	knownNames.Store(t, names)
	return names
}

// marshalWithExtra encodes the struct v (whose tags name the known members,
// in output order) and appends the members of extra that v does not own,
// sorted by key, so unknown fields survive a rewrite deterministically.
func marshalWithExtra(v any, extra map[string]json.RawMessage) ([]byte, error) {
	b, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	if len(extra) == 0 {
		return b, nil
	}
	known := jsonNames(reflect.TypeOf(v))
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return b, nil
	}
	sort.Strings(keys)
	out := bytes.NewBuffer(b[:len(b)-1]) // drop the closing brace
	for i, k := range keys {
		if i > 0 || len(b) > 2 {
			out.WriteByte(',')
		}
		kb, err := encodeJSON(k)
		if err != nil {
			return nil, err
		}
		out.Write(kb)
		out.WriteByte(':')
		val := extra[k]
		if !json.Valid(val) {
			return nil, fmt.Errorf("unknown field %q holds invalid JSON", k)
		}
		out.Write(val)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// decodeObject splits a JSON object into its members. Anything but an
// object is an error that names the JSON type found.
func decodeObject(raw json.RawMessage) (map[string]json.RawMessage, error) {
	if jsonKind(raw) != "an object" {
		return nil, fmt.Errorf("must be an object, got %s", jsonKind(raw))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// fieldError is a problem with one named field of a JSON object.
type fieldError struct {
	Field string
	Msg   string
}

func (e *fieldError) Error() string { return e.Field + " " + e.Msg }

// fields decodes the members of one JSON object, one typed accessor per
// field, and remembers the first problem. JSON null counts as absent.
type fields struct {
	m      map[string]json.RawMessage
	prefix string // prepended to field names in errors, e.g. `uis["web"].`
	err    error
}

func (d *fields) fail(key, format string, args ...any) {
	if d.err == nil {
		d.err = &fieldError{Field: d.prefix + key, Msg: fmt.Sprintf(format, args...)}
	}
}

// get returns the member, treating null as absent.
func (d *fields) get(key string) (json.RawMessage, bool) {
	raw, ok := d.m[key]
	if !ok || jsonKind(raw) == "null" {
		return nil, false
	}
	return raw, true
}

// extra returns the members whose keys are not in the known set, compacted,
// or nil when there are none.
func (d *fields) extra(known map[string]bool) map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for k, v := range d.m {
		if known[k] {
			continue
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		// Compact so callers see the value, not the file's indentation.
		var buf bytes.Buffer
		if json.Compact(&buf, v) == nil {
			v = buf.Bytes()
		}
		out[k] = v
	}
	return out
}

func (d *fields) str(key string, required bool) string {
	raw, ok := d.get(key)
	if !ok {
		if required {
			d.fail(key, "is required (a string)")
		}
		return ""
	}
	var s string
	if jsonKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		d.fail(key, "must be a string, got %s", jsonKind(raw))
	}
	return s
}

func (d *fields) boolPtr(key string) *bool {
	raw, ok := d.get(key)
	if !ok {
		return nil
	}
	var b bool
	if jsonKind(raw) != "a boolean" || json.Unmarshal(raw, &b) != nil {
		d.fail(key, "must be true or false, got %s", jsonKind(raw))
		return nil
	}
	return &b
}

func (d *fields) strings(key string, required bool) []string {
	raw, ok := d.get(key)
	if !ok {
		if required {
			d.fail(key, "is required (an array of strings)")
		}
		return nil
	}
	var items []json.RawMessage
	if jsonKind(raw) != "an array" || json.Unmarshal(raw, &items) != nil {
		d.fail(key, "must be an array of strings, got %s", jsonKind(raw))
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		var s string
		if jsonKind(it) != "a string" || json.Unmarshal(it, &s) != nil {
			d.fail(fmt.Sprintf("%s[%d]", key, i), "must be a string, got %s", jsonKind(it))
			return nil
		}
		out = append(out, s)
	}
	return out
}

// number decodes a JSON number. ok is false when absent or on error.
func (d *fields) number(key string, required bool) (v float64, ok bool) {
	raw, present := d.get(key)
	if !present {
		if required {
			d.fail(key, "is required (a number)")
		}
		return 0, false
	}
	if jsonKind(raw) != "a number" || json.Unmarshal(raw, &v) != nil {
		d.fail(key, "must be a number, got %s", jsonKind(raw))
		return 0, false
	}
	return v, true
}

// integer decodes a JSON number that must be integral and fit in an int32;
// range is the human description used in the error ("1..65535").
func (d *fields) integer(key string, required bool, rng string) int {
	raw, present := d.get(key)
	if !present {
		if required {
			d.fail(key, "is required (an integer %s)", rng)
		}
		return 0
	}
	var v float64
	if jsonKind(raw) != "a number" || json.Unmarshal(raw, &v) != nil {
		d.fail(key, "must be an integer %s, got %s", rng, jsonKind(raw))
		return 0
	}
	if v != math.Trunc(v) || v < math.MinInt32 || v > math.MaxInt32 {
		d.fail(key, "must be an integer %s, got %s", rng, bytes.TrimSpace(raw))
		return 0
	}
	return int(v)
}
