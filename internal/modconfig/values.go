package modconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// InputError is a PUT body that is not a JSON object of at most
// MaxBodyBytes.
type InputError struct {
	// TooLarge is set when the body is over MaxBodyBytes.
	TooLarge bool
	Msg      string
}

func (e *InputError) Error() string { return e.Msg }

// Failure is one reason the schema refused a config.
type Failure struct {
	// Path names the member for a form: its keys joined with "." ("" for
	// the whole document). The admin page keys field errors by it.
	Path string `json:"path"`
	// InstancePath is the same place as a JSON Pointer (RFC 6901), exact
	// even when a key contains a dot. Where the library cannot say which
	// element or extra member failed (a schema for all items, for
	// additionalProperties), it is the array or object around it.
	InstancePath string `json:"instance_path"`
	// SchemaPath is the failing keyword, as a JSON Pointer into the
	// schema (the schema object alone when the keyword is not known).
	SchemaPath string `json:"schema_path,omitempty"`
	Message    string `json:"message"`
}

// ValidationError is a config the schema refused, with every failure.
type ValidationError struct {
	Failures []Failure
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("the config does not match the module's schema")
	for i, f := range e.Failures {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failures)-i)
			break
		}
		p := f.Path
		if p == "" {
			p = "(top level)"
		}
		fmt.Fprintf(&b, "; %s: %s", p, f.Message)
	}
	return b.String()
}

// maxFailures caps the failures reported for one PUT.
const maxFailures = 50

// DecodeBody decodes a PUT body: exactly one JSON object, numbers kept
// exactly as written (json.Number), nothing after it.
func DecodeBody(body []byte) (map[string]any, error) {
	if len(body) > MaxBodyBytes {
		return nil, &InputError{TooLarge: true, Msg: fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &InputError{Msg: `request body is empty; send a JSON object of the members to change, e.g. {"key": "value"}`}
	}
	v, err := decodeJSON(body)
	if err != nil {
		return nil, &InputError{Msg: "request body: " + err.Error()}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &InputError{Msg: fmt.Sprintf(`request body is %s; send a JSON object of the members to change, e.g. {"key": "value"}`, kindOf(v))}
	}
	return obj, nil
}

// decodeJSON decodes one JSON value with json.Number and refuses trailing
// data.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not valid JSON: trailing data after the value; send exactly one JSON object")
	}
	return v, nil
}

// kindOf names a decoded JSON value's kind for messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// Merge returns cur with patch applied at the top level: a member set to
// null is removed, any other value replaces the current one. Neither
// argument is changed.
func Merge(cur, patch map[string]any) map[string]any {
	out := make(map[string]any, len(cur)+len(patch))
	for k, v := range cur {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// Validate checks doc against the schema. When the schema declares
// top-level properties, only those members and the ones patch sets are
// validated: members the schema does not know were written by someone
// else (auto-wire, an operator) and are kept, not judged. A member patch
// sets that the schema does not know is validated, so
// additionalProperties:false still refuses it.
//
// The library stops at the first failure (see locate.go), so Validate
// asks again without the top-level member that failed until the rest
// passes or a failure concerns the whole document: one PUT reports every
// member at fault. A rule tying members together (if/then, dependencies)
// may be reported only once the members it names are fixed.
func (s *Schema) Validate(doc, patch map[string]any) (err error) {
	inst := make(map[string]any, len(doc))
	for k, v := range doc {
		if _, set := patch[k]; set || s.declared == nil || s.declared[k] {
			inst[k] = v
		}
	}
	// Why recover: see Compile; the instance is untrusted too.
	defer func() {
		if p := recover(); p != nil {
			err = &ValidationError{Failures: []Failure{{Message: fmt.Sprintf("the validator failed on this config: %v", p)}}}
		}
	}()
	secretValues := s.secretValues(doc)
	var fs []Failure
	setAside := map[string]bool{} // members taken out after they failed
	for k, v := range inst {
		if bad := outOfRange(v, []string{k}); bad != nil {
			fs = append(fs, Failure{Path: strings.Join(bad, "."), InstancePath: pointer(bad),
				Message: "is a number too large to check; use one within ±1.7e308"})
			delete(inst, k)
			setAside[k] = true
			continue
		}
		inst[k] = forValidator(v)
	}
	for len(fs) < maxFailures {
		verr := s.resolved.Validate(inst)
		if verr == nil {
			break
		}
		loc := locate(s.doc, s.rootName, verr.Error())
		more := s.failures(loc, setAside, secretValues)
		fs = append(fs, more...)
		switch {
		case len(loc.path) > 0:
			// The failure is inside a top-level member: set it aside.
			if setAsideAll(inst, setAside, loc.path[:1]) {
				continue
			}
		case loc.exact && keyword(loc.leaf) == "additionalProperties":
			if ns, ok := names(loc.leaf, "unexpected additional properties "); ok && setAsideAll(inst, setAside, ns) {
				continue
			}
		}
		break // a failure of the whole document: the rest is unknown
	}
	if len(fs) == 0 {
		return nil
	}
	slices.SortStableFunc(fs, func(a, b Failure) int { return strings.Compare(a.InstancePath, b.InstancePath) })
	fs = slices.CompactFunc(fs, func(a, b Failure) bool {
		return a.Path == b.Path && a.InstancePath == b.InstancePath && a.SchemaPath == b.SchemaPath && a.Message == b.Message
	})
	if len(fs) > maxFailures {
		fs = fs[:maxFailures]
	}
	return &ValidationError{Failures: fs}
}

// forValidator converts the json.Numbers in v for the library, which
// reads a json.Number as a string: integers that fit stay exact as int64,
// the rest become float64 (whether a value is an integer survives: a
// float64 with no fraction is one).
func forValidator(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = forValidator(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = forValidator(e)
		}
		return out
	default:
		return v
	}
}

// outOfRange returns the path of the first number in v that a float64
// cannot hold (the library would compare it as infinity), or nil.
func outOfRange(v any, path []string) []string {
	switch x := v.(type) {
	case json.Number:
		if _, err := x.Float64(); err != nil {
			return path
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if p := outOfRange(x[k], append(slices.Clip(path), k)); p != nil {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := outOfRange(e, append(slices.Clip(path), strconv.Itoa(i))); p != nil {
				return p
			}
		}
	}
	return nil
}

// setAsideAll takes the members ns out of inst and reports whether that
// changed inst (if not, asking again would give the same answer).
func setAsideAll(inst map[string]any, setAside map[string]bool, ns []string) bool {
	changed := false
	for _, n := range ns {
		if _, ok := inst[n]; ok {
			delete(inst, n)
			setAside[n], changed = true, true
		}
	}
	return changed
}

// failures turns one located failure into Failures. A missing required
// member is reported at the member's own path, so a form can show it
// beside the field; a top-level member that is only missing because
// Validate set it aside is not reported again.
func (s *Schema) failures(loc location, setAside map[string]bool, secretValues []string) []Failure {
	if loc.exact && keyword(loc.leaf) == "required" {
		if ns, ok := names(loc.leaf, "required: missing properties: "); ok {
			var out []Failure
			for _, n := range ns {
				if len(loc.path) == 0 && setAside[n] {
					continue
				}
				p := append(slices.Clone(loc.path), n)
				out = append(out, Failure{Path: strings.Join(p, "."), InstancePath: pointer(p), SchemaPath: loc.schema,
					Message: "is required"})
			}
			return out
		}
	}
	return []Failure{s.failure(loc, secretValues)}
}

// failure is one Failure, its message withheld when it could show a
// secret.
func (s *Schema) failure(loc location, secretValues []string) Failure {
	msg := loc.leaf
	// Why: the library's messages quote the value ("pattern: \"sk-…\" does
	// not match …", or a whole object for enum and type); an error body, a
	// log line or a screenshot must not carry a secret. A failure at a
	// secret is always masked; one at a place that holds a secret (an
	// object around it, or an inexact location that may be the secret
	// itself) is masked when its text contains a secret's value.
	if s.secrets.covers(loc.path) || s.secrets.under(loc.path) && containsAny(msg, secretValues) {
		msg = "is not valid (the value is secret and not shown; check it against " + loc.schema + ")"
	}
	return Failure{Path: strings.Join(loc.path, "."), InstancePath: pointer(loc.path), SchemaPath: loc.schema, Message: msg}
}

// secretValues lists the text of every secret member of doc (strings as
// they are, anything else as JSON) for masking messages.
func (s *Schema) secretValues(doc map[string]any) []string {
	var out []string
	var walk func(t secretTree, v map[string]any)
	walk = func(t secretTree, v map[string]any) {
		for k, sub := range t {
			x, ok := v[k]
			if !ok {
				continue
			}
			if sub != nil {
				if o, ok := x.(map[string]any); ok {
					walk(sub, o)
					continue
				}
			}
			if str, ok := x.(string); ok {
				// As it is, and as %q prints it.
				out = append(out, str, strings.Trim(strconv.Quote(str), `"`))
			} else if b, err := json.Marshal(x); err == nil {
				out = append(out, string(b))
			}
		}
	}
	walk(s.secrets, doc)
	return out
}

// containsAny reports whether msg contains any of the non-empty values.
func containsAny(msg string, values []string) bool {
	for _, v := range values {
		if v != "" && strings.Contains(msg, v) {
			return true
		}
	}
	return false
}

// pointer renders path as a JSON Pointer.
func pointer(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}
	return b.String()
}
