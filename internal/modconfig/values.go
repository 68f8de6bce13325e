package modconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
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
	// even when a key contains a dot.
	InstancePath string `json:"instance_path"`
	// SchemaPath is the failing keyword, as a JSON Pointer into the schema.
	SchemaPath string `json:"schema_path,omitempty"`
	Message    string `json:"message"`

	path []string // the instance location, for redaction
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
func (s *Schema) Validate(doc, patch map[string]any) (err error) {
	inst := doc
	if s.declared != nil {
		inst = make(map[string]any, len(doc))
		for k, v := range doc {
			if _, set := patch[k]; set || s.declared[k] {
				inst[k] = v
			}
		}
	}
	// Why recover: see Compile; the instance is untrusted too.
	defer func() {
		if p := recover(); p != nil {
			err = &ValidationError{Failures: []Failure{{Message: fmt.Sprintf("the validator failed on this config: %v", p)}}}
		}
	}()
	verr := s.compiled.Validate(any(inst))
	if verr == nil {
		return nil
	}
	ve, ok := errors.AsType[*jsonschema.ValidationError](verr)
	if !ok {
		return fmt.Errorf("validating config: %w", verr)
	}
	var fs []Failure
	collect(ve, &fs)
	for i := range fs {
		// Why: the library's messages quote the value ("'sk-…' does not
		// match pattern …"); an error body, a log line or a screenshot
		// must not carry a secret.
		if s.secrets.covers(fs[i].path) {
			fs[i].Message = "is not valid (the value is secret and not shown; check it against " + fs[i].SchemaPath + ")"
		}
		fs[i].path = nil
	}
	if len(fs) == 0 { // a refusal with no leaf: report the top-level error
		fs = []Failure{{Message: ve.ErrorKind.LocalizedString(printer)}}
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

// printer renders the library's messages (English; the API's language).
var printer = message.NewPrinter(language.English)

// collect appends a Failure for every leaf of the error tree (the
// keywords that actually failed, not the "allOf failed" wrappers). A
// missing required member is reported at the member's own path, so a form
// can show it beside the field.
func collect(ve *jsonschema.ValidationError, out *[]Failure) {
	if len(*out) >= maxFailures {
		return
	}
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collect(c, out)
		}
		return
	}
	loc := ve.InstanceLocation
	schemaPath := ""
	if _, frag, ok := strings.Cut(ve.SchemaURL, "#"); ok {
		schemaPath = frag
	}
	schemaPath += pointer(ve.ErrorKind.KeywordPath())
	if req, ok := ve.ErrorKind.(*kind.Required); ok {
		for _, m := range req.Missing {
			p := append(slices.Clone(loc), m)
			*out = append(*out, Failure{Path: strings.Join(p, "."), InstancePath: pointer(p), SchemaPath: schemaPath,
				Message: "is required", path: p})
		}
		return
	}
	*out = append(*out, Failure{Path: strings.Join(loc, "."), InstancePath: pointer(loc), SchemaPath: schemaPath,
		Message: ve.ErrorKind.LocalizedString(printer), path: slices.Clone(loc)})
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
