package modconfig

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	// Why google/jsonschema-go and not santhosh-tekuri/jsonschema: every
	// exec of the binary (even `parachute status`) runs every linked
	// package's init, and santhosh-tekuri compiles its meta-schemas there
	// (1.7 MB and 3 ms, 15 ms on a loaded machine, against a ~7 ms budget
	// for status). Google's package allocates ~85 KB at init, is the one
	// the official MCP Go SDK validates with, and has no dependencies but
	// go-cmp. What it lacks is in validate.go's locate: it reports only
	// the first failure, as text naming schema locations, not instance
	// locations (github.com/google/jsonschema-go/issues/53).
	"github.com/google/jsonschema-go/jsonschema"
)

// MaxSchemaBytes caps a module's configSchema. A config form of a few
// dozen fields is a few KiB; the cap keeps a hostile or broken module.json
// from making the hub compile megabytes on every version.
const MaxSchemaBytes = 256 << 10

// ErrNoSchema means the module's module.json declares no configSchema.
var ErrNoSchema = errors.New("module declares no configSchema")

// SchemaError is a configSchema the hub refuses to use: too large, not
// JSON, not a valid JSON Schema, or referring to a document outside
// itself. The module's author has to fix module.json.
type SchemaError struct {
	Short string
	Err   error
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("the configSchema in %s's module.json cannot be used: %v", e.Short, e.Err)
}

func (e *SchemaError) Unwrap() error { return e.Err }

// Schema is a compiled configSchema.
type Schema struct {
	// Raw is the schema exactly as module.json has it.
	Raw json.RawMessage
	// sum identifies Raw for the compile cache.
	sum [sha256.Size]byte
	// resolved validates instances.
	resolved *jsonschema.Resolved
	// doc is Raw decoded, for mapping the library's schema locations
	// back to keywords (locate).
	doc map[string]any
	// rootName is how the library names the root schema in its errors.
	rootName string
	// declared are the top-level property names; nil when the schema has
	// no "properties" object (then the whole document is validated).
	declared map[string]bool
	// secrets is the tree of members never sent back (secretTree).
	secrets secretTree
}

// The $schema values the library validates. A schema that names none is
// read as draft-07, as the reference's modules write them (the library
// itself would default to 2020-12, where "items": [...] and
// "dependencies" mean something else).
const (
	draft07      = "http://json-schema.org/draft-07/schema#"
	draft07https = "https://json-schema.org/draft-07/schema#"
	draft2020    = "https://json-schema.org/draft/2020-12/schema"
)

// schemaURL is the made-up location a module's schema is resolved under.
// A relative $ref resolves against it to another file:// URL, which
// refuseLoader refuses like any other.
func schemaURL(short string) string {
	return "file:///parachute/modules/" + url.PathEscape(short) + "/configSchema.json"
}

// refuseLoader is the resolver's only loader. Why refuse everything:
// a module.json comes from a package anyone can publish, and the hub
// compiles it with the operator's privileges. Loading http(s) would let
// the schema make the hub fetch arbitrary URLs (SSRF, and a config page
// that hangs when the network does); loading file:// would let it read
// local files into error messages. The library never loads $schema: it
// knows draft-07 and 2020-12 by name, and Compile refuses any other.
func refuseLoader(u *url.URL) (*jsonschema.Schema, error) {
	return nil, fmt.Errorf("refusing to load %s: a configSchema must be self-contained (only local \"#/...\" references; remote and file references are never fetched)", u.Redacted())
}

// Compile parses and resolves a configSchema. It never touches the
// network or the file system.
func Compile(short string, raw []byte) (s *Schema, err error) {
	if len(raw) > MaxSchemaBytes {
		return nil, &SchemaError{short, fmt.Errorf("it is %d bytes, more than the %d allowed", len(raw), MaxSchemaBytes)}
	}
	// Why recover: the library walks a document chosen by whoever
	// published the module; a bug there must cost one refused schema, not
	// the hub.
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, &SchemaError{short, fmt.Errorf("the schema compiler failed on it: %v", p)}
		}
	}()
	doc, err := decodeJSON(raw)
	if err != nil {
		return nil, &SchemaError{short, fmt.Errorf("not JSON: %w", err)}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, &SchemaError{short, errors.New("it is not a JSON object")}
	}
	var sch jsonschema.Schema
	if err := json.Unmarshal(raw, &sch); err != nil {
		return nil, &SchemaError{short, fmt.Errorf("not a JSON Schema: %w", err)}
	}
	switch sch.Schema {
	case "":
		sch.Schema = draft07
	case draft07, draft07https, draft2020:
	default:
		return nil, &SchemaError{short, fmt.Errorf("its $schema %q is not supported: write a draft-07 (%s) or 2020-12 (%s) schema; other drafts and meta-schemas are never fetched", sch.Schema, draft07, draft2020)}
	}
	resolved, err := sch.Resolve(&jsonschema.ResolveOptions{BaseURI: schemaURL(short), Loader: refuseLoader})
	if err != nil {
		return nil, &SchemaError{short, err}
	}
	if err := checkLoops(obj, schemaURL(short)); err != nil {
		return nil, &SchemaError{short, err}
	}
	s = &Schema{Raw: append(json.RawMessage(nil), raw...), sum: sha256.Sum256(raw), resolved: resolved,
		doc: obj, rootName: "root", secrets: secretsOf(obj, 0)}
	if sch.ID != "" {
		s.rootName = sch.ID // the library names a schema by its $id when it has one
	}
	if props, ok := obj["properties"].(map[string]any); ok {
		s.declared = make(map[string]bool, len(props))
		for k := range props {
			s.declared[k] = true
		}
	}
	return s, nil
}

// secretTree marks the members of an object that are secrets (true leaf:
// a nil subtree) or objects with secrets inside (a non-nil subtree).
type secretTree map[string]secretTree

// maxSecretDepth bounds the walk of nested "properties" (the JSON decoder
// already bounds nesting; this keeps the walk cheap and obviously finite).
const maxSecretDepth = 32

// secretsOf walks "properties" (not $ref, allOf, …: the admin page renders
// plain properties, and a secret hidden behind a $ref is the schema
// author's to flatten) and returns the members marked writeOnly or
// format "password".
func secretsOf(schema map[string]any, depth int) secretTree {
	props, ok := schema["properties"].(map[string]any)
	if !ok || depth > maxSecretDepth {
		return nil
	}
	var t secretTree
	for name, p := range props {
		ps, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if isSecret(ps) {
			if t == nil {
				t = secretTree{}
			}
			t[name] = nil
			continue
		}
		if sub := secretsOf(ps, depth+1); sub != nil {
			if t == nil {
				t = secretTree{}
			}
			t[name] = sub
		}
	}
	return t
}

func isSecret(ps map[string]any) bool {
	if w, _ := ps["writeOnly"].(bool); w {
		return true
	}
	f, _ := ps["format"].(string)
	return strings.EqualFold(f, "password")
}

// view is what the API returns of a config: the members the schema
// declares (all of them when it declares none), without the secrets. As in
// the reference, members the schema does not declare are not shown: they
// were written by someone else (auto-wire puts scribe's auth token there)
// and may be secrets the schema cannot mark.
func (s *Schema) view(v map[string]any) map[string]any {
	if s.declared != nil {
		d := make(map[string]any, len(s.declared))
		for k, x := range v {
			if s.declared[k] {
				d[k] = x
			}
		}
		v = d
	}
	return s.secrets.mask(v)
}

// covers reports whether the member at path is a secret or inside one.
func (t secretTree) covers(path []string) bool {
	_, inside := t.walk(path)
	return inside
}

// under reports whether a secret is at path, inside it, or contains it.
func (t secretTree) under(path []string) bool {
	rest, inside := t.walk(path)
	return inside || len(rest) > 0
}

// walk follows path down the tree. inside is true once it meets a secret
// at or above the end of path; otherwise rest is the tree below path (nil
// when no secret lies there).
func (t secretTree) walk(path []string) (rest secretTree, inside bool) {
	for _, p := range path {
		sub, marked := t[p]
		if !marked {
			return nil, false
		}
		if sub == nil {
			return nil, true
		}
		t = sub
	}
	return t, false
}

// mask returns a copy of v without the secret members; v itself is not
// changed.
func (t secretTree) mask(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		sub, marked := t[k]
		switch {
		case marked && sub == nil:
			continue
		case marked:
			if o, ok := x.(map[string]any); ok {
				out[k] = sub.mask(o)
				continue
			}
		}
		out[k] = x
	}
	return out
}
