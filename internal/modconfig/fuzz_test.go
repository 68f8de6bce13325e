package modconfig

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// Seeds run as ordinary cases under `go test`; explore with
// `go test -run=^$ -fuzz=FuzzPut ./internal/modconfig` (or FuzzCompile).

// FuzzPut feeds arbitrary PUT bodies through the path the API uses. It
// must never panic; every refusal is an *InputError or *ValidationError
// and leaves config.json as it was; whatever is accepted validates when
// read back, and no secret is ever returned.
func FuzzPut(f *testing.F) {
	for _, s := range []string{
		`{"provider":"groq"}`, `{"provider":"groq","api_key":"k","cleanup":{"enabled":true,"token":"t"}}`,
		`{"max_minutes":1e2}`, `{"max_minutes":12345678901234567890123}`, `{"provider":null}`, `{"cleanup":{"x":[1,{"y":null}]}}`,
		`[]`, `null`, `"x"`, `{"a":1}{"b":2}`, `{"provider":"groq"} `, `{"\u0000":"\ud800"}`, `{`, ``,
		`{"provider":"openai","provider":"nope"}`, `{"max_minutes":-0.0}`,
	} {
		f.Add([]byte(s))
	}
	st, dir := newModule(f, scribeSchema)
	sch, err := st.Schema("scribe", dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before, _ := os.ReadFile(st.Path("scribe"))
		view, err := st.Put("scribe", sch, body)
		if err != nil {
			_, input := errors.AsType[*InputError](err)
			ve, invalid := errors.AsType[*ValidationError](err)
			if !input && !invalid {
				t.Fatalf("Put error %T: %v", err, err)
			}
			if invalid && len(ve.Failures) == 0 {
				t.Fatal("a ValidationError with no failures")
			}
			if after, _ := os.ReadFile(st.Path("scribe")); !bytes.Equal(before, after) {
				t.Fatalf("a refused PUT changed config.json")
			}
			return
		}
		if _, ok := view["api_key"]; ok {
			t.Fatalf("Put returned the writeOnly api_key: %v", view)
		}
		if c, ok := view["cleanup"].(map[string]any); ok {
			if _, ok := c["token"]; ok {
				t.Fatalf("Put returned the password cleanup.token: %v", view)
			}
		}
		cur, err := st.read("scribe")
		if err != nil {
			t.Fatalf("reading back what Put wrote: %v", err)
		}
		if err := sch.Validate(cur, nil); err != nil {
			t.Fatalf("what Put wrote does not validate: %v", err)
		}
	})
}

// FuzzCompile compiles arbitrary schemas and validates an arbitrary
// instance against those that compile. Neither may panic (the recover in
// Compile and Validate would hide a library panic, so one is a failure
// here), and nothing may be loaded from outside the schema.
func FuzzCompile(f *testing.F) {
	for _, s := range [][2]string{
		{scribeSchema, `{"provider":"groq"}`},
		{`{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, `{}`},
		{`{"definitions":{"n":{"type":"object","properties":{"n":{"$ref":"#/definitions/n"}}}},"$ref":"#/definitions/n"}`, `{"n":{"n":{"n":1}}}`},
		{`{"properties":{"a":{"$ref":"http://127.0.0.1:1/x"}}}`, `{"a":1}`},
		{`{"pattern":"(a+)+$","type":"string"}`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"`},
		{`{"patternProperties":{"[":{}}}`, `{}`},
		{`{"type":"object","dependencies":{"a":["b"]},"if":{"required":["a"]},"then":{"required":["c"]}}`, `{"a":1}`},
		{`{"$id":"http://x/y","items":[{"type":"integer"}],"additionalItems":false}`, `[1,2]`},
		{`{"format":"email","contentEncoding":"base64"}`, `"not an email"`},
		{`{"$schema":"http://json-schema.org/draft-04/schema#","maximum":5,"exclusiveMaximum":true}`, `5`},
		{`{"$dynamicRef":"#meta","$dynamicAnchor":"meta"}`, `{}`},
		{`{"multipleOf":1e-400}`, `1e400`},
		{`true`, `{}`}, {`{}`, `[]`}, {`{"type":`, ``},
		{`{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"a":{"$anchor":"a","not":{"$ref":"#a"}}},"$ref":"#a"}`, `{}`},
		{`{"$id":"https://x.invalid/s.json","definitions":{"p":{"$id":"#p","type":"integer"}},"properties":{"a":{"$ref":"s.json#p"},"b":{"$ref":"#/definitions/p"}}}`, `{"a":1.5,"b":"x"}`},
		{`{"properties":{"a: b":{"properties":{"c~/d":{"enum":[1]}}}},"required":["z"],"additionalProperties":false}`, `{"a: b":{"c~/d":2},"q":1}`},
		{`{"properties":{"s":{"writeOnly":true,"pattern":"^x"}},"$ref":"#/properties/s"}`, `{"s":"secret"}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, schema, instance []byte) {
		sch, err := Compile("fuzz", schema)
		if err != nil {
			if _, ok := errors.AsType[*SchemaError](err); !ok {
				t.Fatalf("Compile error %T: %v", err, err)
			}
			if strings.Contains(err.Error(), "compiler failed on it") {
				t.Fatalf("the schema library panicked: %v", err)
			}
			return
		}
		doc, err := DecodeBody(instance)
		if err != nil {
			return
		}
		err = sch.Validate(doc, doc)
		if err == nil {
			return
		}
		ve, ok := errors.AsType[*ValidationError](err)
		if !ok {
			t.Fatalf("Validate error %T: %v", err, err)
		}
		for _, fl := range ve.Failures {
			if strings.Contains(fl.Message, "validator failed") {
				t.Fatalf("the schema library panicked validating: %v", fl.Message)
			}
		}
	})
}
