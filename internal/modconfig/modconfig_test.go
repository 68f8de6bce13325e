package modconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

// scribeSchema is a scribe-like configSchema: a provider enum, a secret
// API key, a bounded number and a nested object, draft-07 like the
// reference's modules.
const scribeSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "provider": {"type": "string", "enum": ["groq", "openai", "whisper"]},
    "api_key": {"type": "string", "writeOnly": true},
    "max_minutes": {"type": "integer", "minimum": 1, "maximum": 600},
    "cleanup": {"type": "object", "properties": {
      "enabled": {"type": "boolean"},
      "token": {"type": "string", "format": "password"}
    }, "additionalProperties": false}
  },
  "required": ["provider"],
  "additionalProperties": false
}`

func mustCompile(t *testing.T, raw string) *Schema {
	t.Helper()
	s, err := Compile("scribe", []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCompile covers which schemas the hub accepts, and that a schema
// pointing outside itself is refused without anything being fetched.
func TestCompile(t *testing.T) {
	var hits atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"type":"string"}`))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	remote := "http://" + ln.Addr().String() + "/s.json"
	secret := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(secret, []byte(`{"type":"string"}`), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, schema string
		wantErr      string // substring; "" means it compiles
	}{
		{"draft-07 with local $ref", `{"definitions":{"p":{"type":"integer"}},"properties":{"port":{"$ref":"#/definitions/p"}}}`, ""},
		{"draft 2020-12", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"p":{"type":"integer"}},"properties":{"port":{"$ref":"#/$defs/p"}}}`, ""},
		{"draft-07 anchor $id", `{"definitions":{"p":{"$id":"#port","type":"integer"}},"properties":{"port":{"$ref":"#port"}}}`, ""},
		{"root $id", `{"$id":"https://example.invalid/scribe.json","definitions":{"p":{"type":"integer"}},"properties":{"port":{"$ref":"scribe.json#/definitions/p"}}}`, ""},
		{"draft 4 (the library validates draft-07 and 2020-12 only)", `{"$schema":"http://json-schema.org/draft-04/schema#","properties":{"a":{"type":"string"}}}`, "is not supported"},
		{"the scribe-like schema", scribeSchema, ""},
		{"remote http $ref", `{"properties":{"a":{"$ref":"` + remote + `"}}}`, "must be self-contained"},
		{"remote https $ref", `{"properties":{"a":{"$ref":"https://example.invalid/s.json"}}}`, "must be self-contained"},
		{"file $ref", `{"properties":{"a":{"$ref":"file://` + secret + `"}}}`, "must be self-contained"},
		{"relative $ref", `{"properties":{"a":{"$ref":"other.json#/x"}}}`, "must be self-contained"},
		{"remote $schema", `{"$schema":"` + remote + `","type":"object"}`, "is not supported"},
		{"$ref loop", `{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, "it loops"},
		{"$ref loop through allOf", `{"definitions":{"a":{"allOf":[{"$ref":"#"}]}},"properties":{"x":{"type":"string"}},"anyOf":[{"$ref":"#/definitions/a"}]}`, "it loops"},
		{"$ref loop through an anchor", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"a":{"$anchor":"a","not":{"$ref":"#a"}}},"$ref":"#a"}`, "it loops"},
		// The library evaluates every anyOf branch: on {"a":{"a":…}} 20
		// deep this took 3 s, 2^depth.
		{"recursion through properties", `{"properties":{"a":{"anyOf":[{"$ref":"#"},{"$ref":"#"}]}}}`, "it loops"},
		{"recursion through items", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"n":{"type":"array","items":{"$ref":"#/$defs/n"}}},"$ref":"#/$defs/n"}`, "it loops"},
		{"$refs unfolding exponentially", exponentialDAG(14), "more than 10000 subschemas"},
		{"$refs unfolding to a few thousand", exponentialDAG(11), ""},
		{"subschema $id", `{"properties":{"a":{"$id":"https://example.invalid/a.json","type":"string"}}}`, "its own $id"},
		{"not an object", `["type"]`, "not a JSON object"},
		{"not JSON", `{"type":`, "not JSON"},
		{"invalid keyword value", `{"type":5}`, "cannot be used"},
		{"bad local $ref", `{"properties":{"a":{"$ref":"#/nowhere"}}}`, "cannot be used"},
		{"too large", `{"description":"` + strings.Repeat("x", MaxSchemaBytes) + `"}`, "more than the"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile("mod", []byte(c.schema))
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Compile error = %v, want one containing %q", err, c.wantErr)
			}
			if _, ok := errors.AsType[*SchemaError](err); !ok {
				t.Fatalf("Compile error is %T, want *SchemaError", err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the schema compiler fetched the remote schema %d times; it must never fetch", n)
	}
}

// exponentialDAG is a schema of n definitions each referring twice to
// the next: n+1 objects that unfold to about 2^(n+2) subschemas.
func exponentialDAG(n int) string {
	var b strings.Builder
	b.WriteString(`{"$ref":"#/definitions/d0","definitions":{`)
	for i := range n {
		fmt.Fprintf(&b, `"d%d":{"anyOf":[{"$ref":"#/definitions/d%d"},{"$ref":"#/definitions/d%d"}]},`, i, i+1, i+1)
	}
	fmt.Fprintf(&b, `"d%d":{"type":"string"}}}`, n)
	return b.String()
}

// TestValidateFailures checks that every failure is reported with the
// instance path of the member at fault.
func TestValidateFailures(t *testing.T) {
	s := mustCompile(t, scribeSchema)
	cases := []struct {
		name  string
		patch string
		want  []Failure
	}{
		{"valid", `{"provider":"groq","max_minutes":30,"cleanup":{"enabled":true}}`, nil},
		{"enum, maximum and nested additionalProperties", `{"provider":"nope","max_minutes":601,"cleanup":{"enabled":true,"x":1}}`, []Failure{
			{Path: "cleanup", InstancePath: "/cleanup", SchemaPath: "/properties/cleanup/additionalProperties"},
			{Path: "max_minutes", InstancePath: "/max_minutes", SchemaPath: "/properties/max_minutes/maximum"},
			{Path: "provider", InstancePath: "/provider", SchemaPath: "/properties/provider/enum"},
		}},
		{"missing required at the member's path", `{"max_minutes":"10"}`, []Failure{
			{Path: "max_minutes", InstancePath: "/max_minutes", SchemaPath: "/properties/max_minutes/type"},
			{Path: "provider", InstancePath: "/provider", SchemaPath: "/required"},
		}},
		{"unknown member sent", `{"provider":"groq","typo":1}`, []Failure{
			{Path: "", InstancePath: "", SchemaPath: "/additionalProperties"},
		}},
		{"integer kept exact", `{"provider":"groq","max_minutes":1.5}`, []Failure{
			{Path: "max_minutes", InstancePath: "/max_minutes", SchemaPath: "/properties/max_minutes/type"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			patch, err := DecodeBody([]byte(c.patch))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Validate(Merge(nil, patch), patch)
			var got []Failure
			if ve, ok := errors.AsType[*ValidationError](err); ok {
				got = ve.Failures
			} else if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			for i := range got {
				if got[i].Message == "" {
					t.Errorf("failure %+v has no message", got[i])
				}
				got[i].Message = ""
			}
			if diff := cmp.Diff(c.want, got, cmpopts.IgnoreUnexported(Failure{})); diff != "" {
				t.Fatalf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeBody(t *testing.T) {
	cases := []struct {
		name, body string
		tooLarge   bool
		ok         bool
	}{
		{"object", `{"a":1}`, false, true},
		{"array", `[1]`, false, false},
		{"null", `null`, false, false},
		{"two objects", `{"a":1}{"a":2}`, false, false},
		{"empty", ` `, false, false},
		{"not JSON", `{a:1}`, false, false},
		{"too large", `{"a":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeBody([]byte(c.body))
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ie, ok := errors.AsType[*InputError](err)
			if !ok {
				t.Fatalf("DecodeBody error = %v (%T), want *InputError", err, err)
			}
			if ie.TooLarge != c.tooLarge {
				t.Fatalf("TooLarge = %v, want %v", ie.TooLarge, c.tooLarge)
			}
		})
	}
}

// newModule writes an install dir whose module.json carries schema.
func newModule(t testing.TB, schema string) (*Store, string) {
	t.Helper()
	st := New(config.Paths{Root: t.TempDir()})
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
		t.Fatal(err)
	}
	mod := `{"name":"scribe","port":0,"paths":["/scribe"]`
	if schema != "" {
		mod += `,"configSchema":` + schema
	}
	if err := os.WriteFile(manifest.ModulePath(dir), []byte(mod+"}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return st, dir
}

// TestPutMergesMasksAndKeepsForeignMembers walks the life of a config:
// secrets are stored but never returned, a partial PUT keeps what it does
// not name, null removes, and members the schema does not declare
// (auto-wire's auth block, which holds a token) survive untouched in the
// file and are never returned either.
func TestPutMergesMasksAndKeepsForeignMembers(t *testing.T) {
	st, dir := newModule(t, scribeSchema)
	sch, err := st.Schema("scribe", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(st.Path("scribe")), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.Path("scribe"), []byte(`{"auth":{"required_token":"tok"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		body     string
		wantView string
		wantFile string
	}{
		{`{"provider":"groq","api_key":"sk-1","cleanup":{"enabled":true,"token":"t"}}`,
			`{"provider":"groq","cleanup":{"enabled":true}}`,
			`{"api_key":"sk-1","auth":{"required_token":"tok"},"cleanup":{"enabled":true,"token":"t"},"provider":"groq"}`},
		{`{"max_minutes":90}`,
			`{"provider":"groq","cleanup":{"enabled":true},"max_minutes":90}`,
			`{"api_key":"sk-1","auth":{"required_token":"tok"},"cleanup":{"enabled":true,"token":"t"},"max_minutes":90,"provider":"groq"}`},
		{`{"cleanup":null,"api_key":"sk-2"}`,
			`{"provider":"groq","max_minutes":90}`,
			`{"api_key":"sk-2","auth":{"required_token":"tok"},"max_minutes":90,"provider":"groq"}`},
	}
	for i, s := range steps {
		view, err := st.Put("scribe", sch, []byte(s.body))
		if err != nil {
			t.Fatalf("step %d: Put: %v", i, err)
		}
		assertJSON(t, view, s.wantView)
		got, err := st.Get("scribe", sch)
		if err != nil {
			t.Fatal(err)
		}
		assertJSON(t, got, s.wantView)
		raw, err := os.ReadFile(st.Path("scribe"))
		if err != nil {
			t.Fatal(err)
		}
		var file any
		if err := json.Unmarshal(raw, &file); err != nil {
			t.Fatal(err)
		}
		assertJSON(t, file, s.wantFile)
		fi, err := os.Stat(st.Path("scribe"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("config.json mode %v, want 0600", fi.Mode().Perm())
		}
	}

	// A refused PUT writes nothing.
	before, _ := os.ReadFile(st.Path("scribe"))
	_, err = st.Put("scribe", sch, []byte(`{"provider":"nope"}`))
	if _, ok := errors.AsType[*ValidationError](err); !ok {
		t.Fatalf("invalid Put error = %v, want *ValidationError", err)
	}
	after, _ := os.ReadFile(st.Path("scribe"))
	if string(before) != string(after) {
		t.Fatalf("a refused PUT changed config.json:\n%s\n→\n%s", before, after)
	}
}

func assertJSON(t *testing.T, got any, want string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Fatalf("JSON (-want +got):\n%s", diff)
	}
}

// TestSymlinksRefused: config.json holds secrets, so neither a link at
// the file nor at the module's directory is followed, for reading or
// writing.
func TestSymlinksRefused(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		st, dir := newModule(t, scribeSchema)
		sch, _ := st.Schema("scribe", dir)
		target := filepath.Join(t.TempDir(), "elsewhere.json")
		os.WriteFile(target, []byte(`{"provider":"groq"}`), 0o600)
		os.MkdirAll(filepath.Dir(st.Path("scribe")), 0o700)
		if err := os.Symlink(target, st.Path("scribe")); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get("scribe", sch); err == nil {
			t.Fatal("Get read config.json through a symlink")
		}
		if _, err := st.Put("scribe", sch, []byte(`{"provider":"openai"}`)); err == nil {
			t.Fatal("Put wrote config.json through a symlink")
		}
		if b, _ := os.ReadFile(target); string(b) != `{"provider":"groq"}` {
			t.Fatalf("the link's target changed: %s", b)
		}
	})
	t.Run("directory", func(t *testing.T) {
		st, dir := newModule(t, scribeSchema)
		sch, _ := st.Schema("scribe", dir)
		elsewhere := t.TempDir()
		if err := os.Symlink(elsewhere, filepath.Dir(st.Path("scribe"))); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Put("scribe", sch, []byte(`{"provider":"openai"}`)); err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("Put into a symlinked module directory: %v, want a refusal naming the symlink", err)
		}
		if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
			t.Fatalf("Put wrote %d files through the linked directory", len(ents))
		}
	})
}

// TestSchemaCache compiles once per module.json version.
func TestSchemaCache(t *testing.T) {
	st, dir := newModule(t, scribeSchema)
	a, err := st.Schema("scribe", dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.Schema("scribe", dir)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("the same module.json was compiled twice")
	}
	// An upgrade changes the schema: the next call sees it.
	mod := `{"name":"scribe","port":0,"configSchema":{"type":"object","properties":{"x":{"type":"integer"}}}}`
	if err := os.WriteFile(manifest.ModulePath(dir), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := st.Schema("scribe", dir)
	if err != nil {
		t.Fatal(err)
	}
	if c == a || !c.declared["x"] {
		t.Fatal("a changed configSchema was not recompiled")
	}

	noSchema, dir2 := newModule(t, "")
	if _, err := noSchema.Schema("scribe", dir2); !errors.Is(err, ErrNoSchema) {
		t.Fatalf("Schema of a module without one = %v, want ErrNoSchema", err)
	}
}

// TestSecretNotEchoed: a refused secret is reported at its path, but the
// library's message (which quotes the value) is replaced.
func TestSecretNotEchoed(t *testing.T) {
	s := mustCompile(t, `{"type":"object","properties":{
		"api_key":{"type":"string","writeOnly":true,"pattern":"^sk-[a-z]+$"},
		"nested":{"type":"object","properties":{"pw":{"type":"string","format":"password","minLength":40}}},
		"name":{"type":"string","pattern":"^[a-z]+$"}}}`)
	patch, err := DecodeBody([]byte(`{"api_key":"SECRET-1","nested":{"pw":"SECRET-2"},"name":"Visible-3"}`))
	if err != nil {
		t.Fatal(err)
	}
	ve, ok := errors.AsType[*ValidationError](s.Validate(patch, patch))
	if !ok || len(ve.Failures) != 3 {
		t.Fatalf("Validate = %v, want three failures", ve)
	}
	body, _ := json.Marshal(ve.Failures)
	if strings.Contains(string(body), "SECRET") || strings.Contains(ve.Error(), "SECRET") {
		t.Fatalf("a secret value is echoed in %s / %v", body, ve)
	}
	if !strings.Contains(string(body), "Visible-3") {
		t.Fatalf("a non-secret value's message lost its detail: %s", body)
	}

	// A failure at an object around a secret, or one the library can only
	// place at the array around it, quotes the secret in its text.
	s = mustCompile(t, `{"type":"object","properties":{
		"nested":{"enum":[{}],"properties":{"pw":{"type":"string","writeOnly":true}}},
		"keys":{"type":"array","items":{"type":"string","pattern":"^k-"},"writeOnly":true},
		"other":{"type":"string","enum":["a"]}}}`)
	patch, err = DecodeBody([]byte(`{"nested":{"pw":"SECRET-4"},"keys":["k-1","SECRET-5"],"other":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	ve, ok = errors.AsType[*ValidationError](s.Validate(patch, patch))
	if !ok || len(ve.Failures) != 3 {
		t.Fatalf("Validate = %v, want three failures", ve)
	}
	body, _ = json.Marshal(ve.Failures)
	if strings.Contains(string(body), "SECRET") || strings.Contains(ve.Error(), "SECRET") {
		t.Fatalf("a secret value is echoed in %s / %v", body, ve)
	}
	if !strings.Contains(string(body), `enum: b does not equal`) {
		t.Fatalf("a non-secret value's message lost its detail: %s", body)
	}
}

// TestValidateLocations pins how the library's first-failure text is read
// back into instance locations (locate.go): through nested properties,
// $ref, draft-07 tuples, escaped keys, and where the location can only
// be the member around the failure. A library upgrade that changes its
// error text fails here first.
func TestValidateLocations(t *testing.T) {
	const nested = `{"type":"object",
	  "definitions":{"m":{"type":"integer","maximum":5}},
	  "properties":{
	    "a.b/c":{"$ref":"#/definitions/m"},
	    "tags":{"type":"array","items":{"type":"string"}},
	    "pair":{"items":[{"type":"integer"}],"additionalItems":false},
	    "o":{"type":"object","properties":{"p":{"type":"object","properties":{"q":{"type":"boolean"}},"required":["r"]}}},
	    "n":{"anyOf":[{"type":"string"},{"type":"integer"}]}}}`
	cases := []struct {
		name, schema, patch string
		want                []Failure
	}{
		{"nested, $ref'd, escaped, tuple and items", nested, `{"a.b/c":6,"tags":["x",1],"pair":[1,2],"o":{"p":{"q":1}}}`, []Failure{
			{Path: "a.b/c", InstancePath: "/a.b~1c", SchemaPath: "/definitions/m/maximum"},
			{Path: "o.p.q", InstancePath: "/o/p/q", SchemaPath: "/properties/o/properties/p/properties/q/type"},
			// draft-07 (no $schema): additionalItems applies to the
			// second element; the location is the array around it.
			{Path: "pair", InstancePath: "/pair", SchemaPath: "/properties/pair/additionalItems/not"},
			// "items" over all elements: the array around the one at fault.
			{Path: "tags", InstancePath: "/tags", SchemaPath: "/properties/tags/items/type"},
		}},
		{"nested required at the member's path", nested, `{"o":{"p":{"q":true}}}`, []Failure{
			{Path: "o.p.r", InstancePath: "/o/p/r", SchemaPath: "/properties/o/properties/p/required", Message: "is required"},
		}},
		{"anyOf", nested, `{"n":1.5}`, []Failure{
			{Path: "n", InstancePath: "/n", SchemaPath: "/properties/n/anyOf"},
		}},
		{"a number beyond float64", nested, `{"n":1e400}`, []Failure{
			{Path: "n", InstancePath: "/n", Message: "is a number too large to check; use one within ±1.7e308"},
		}},
		{"a required number beyond float64 is not also missing", `{"required":["n"]}`, `{"n":-1e400}`, []Failure{
			{Path: "n", InstancePath: "/n", Message: "is a number too large to check; use one within ±1.7e308"},
		}},
		{"2020-12 items is not a tuple", `{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"type":"integer"}],"items":false}`, `{"x":1}`, nil},
		// The text reads like a step into member "a", but the root's
		// $ref applies that schema to the root: the location stays at
		// the root (inexact), never at /a/z.
		{"a root $ref into its own properties is not a descent", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"#/properties/a","properties":{"a":{"type":"object","required":["z"]}}}`, `{"a":{"z":1}}`, []Failure{
			{Path: "", InstancePath: "", SchemaPath: "/properties/a/required", Message: `required: missing properties: ["z"]`},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustCompile(t, c.schema)
			patch, err := DecodeBody([]byte(c.patch))
			if err != nil {
				t.Fatal(err)
			}
			var got []Failure
			if ve, ok := errors.AsType[*ValidationError](s.Validate(patch, patch)); ok {
				got = ve.Failures
			}
			for i := range got {
				if got[i].Message == "" {
					t.Errorf("failure %+v has no message", got[i])
				}
			}
			ignoreMsg := cmp.FilterPath(func(p cmp.Path) bool {
				return p.Last().String() == ".Message"
			}, cmp.Comparer(func(a, b string) bool { return a == "" || b == "" || a == b }))
			if diff := cmp.Diff(c.want, got, cmpopts.IgnoreUnexported(Failure{}), ignoreMsg); diff != "" {
				t.Fatalf("failures (-want +got):\n%s", diff)
			}
		})
	}
}
