package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/; `go test` runs them
// as ordinary cases, `go test -fuzz=FuzzX` explores from them.

// FuzzLoadServices parses arbitrary bytes with the function Load uses. It
// must never panic; whatever the strict parse accepts must re-marshal to a
// fixed point that parses back to the same rows; whatever the lenient parse
// keeps must pass validation, and the rows Routable keeps must pass the
// mount rules again.
func FuzzLoadServices(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		lf, err := parse(data, "services.json", true)
		if err == nil {
			if verr := lf.Validate(); verr != nil {
				t.Fatalf("lenient parse kept rows that fail validation: %v", verr)
			}
			// What the hub routes never carries a refused mount.
			kept, _ := Routable(lf.Services)
			if again := CheckMounts(kept); len(again) != 0 {
				t.Fatalf("rows Routable kept are refused on a second pass: %v", again)
			}
		}

		file, err := Parse(data, "services.json")
		if err != nil {
			if _, ok := err.(*ManifestError); !ok {
				t.Fatalf("Parse error %T is not a *ManifestError: %v", err, err)
			}
			return
		}
		out, err := file.Marshal()
		if err != nil {
			t.Fatalf("Marshal of an accepted file: %v", err)
		}
		again, err := Parse(out, "services.json")
		if err != nil {
			t.Fatalf("re-parse of our own output: %v\n%s", err, out)
		}
		if len(again.Warnings) != 0 {
			t.Errorf("re-parse warned: %q", again.Warnings)
		}
		if diff := cmp.Diff(file.Services, again.Services, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("rows changed across a round trip (-first +second):\n%s", diff)
		}
		out2, err := again.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(out2) {
			t.Errorf("Marshal is not a fixed point:\n%s\n---\n%s", out, out2)
		}
	})
}

// FuzzParseModule: never panic; an accepted manifest validates and
// survives encoding/json and a second parse unchanged.
func FuzzParseModule(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseModule(data, "module.json")
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted manifest fails Validate: %v", err)
		}
		// encodeJSON, not json.Marshal: the latter HTML-escapes "&" inside
		// unknown raw members, which is equal JSON but different bytes.
		out, err := encodeJSON(m)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		m2, err := ParseModule(out, "module.json")
		if err != nil {
			t.Fatalf("re-parse of our own output: %v\n%s", err, out)
		}
		if diff := cmp.Diff(m, m2, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("manifest changed across a round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseEnv: never panic; every accepted variable has a valid key, no
// NUL, a line number in range, and reads back unchanged through
// FormatEnvLine.
func FuzzParseEnv(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := ParseEnv(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error does not name a line: %v", err)
			}
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, v := range vars {
			if !envKeyRE.MatchString(v.Key) || strings.ContainsRune(v.Value, 0) || v.Line < 1 || v.Line > lines {
				t.Fatalf("bad variable %+v", v)
			}
			back, err := ParseEnv([]byte(FormatEnvLine(v.Key, v.Value)))
			if err != nil || len(back) != 1 || back[0].Key != v.Key || back[0].Value != v.Value {
				t.Fatalf("%+v does not survive FormatEnvLine: %+v, %v", v, back, err)
			}
		}
	})
}
