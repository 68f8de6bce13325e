package install

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSetJSONMember(t *testing.T) {
	tok := json.RawMessage(`"T"`)
	path := []string{"auth", "required_token"}
	tests := []struct{ name, in, want string }{
		{"empty object", `{}`, `{"auth": {"required_token": "T"}}`},
		{"empty multi-line object", "{\n}\n", "{\n  \"auth\": {\"required_token\": \"T\"}\n}\n"},
		{"appends after the last member, same indent", "{\n  \"a\": 1\n}\n", "{\n  \"a\": 1,\n  \"auth\": {\"required_token\": \"T\"}\n}\n"},
		{"one-line object", `{"a":1}`, `{"a":1, "auth": {"required_token": "T"}}`},
		{"merges into auth", "{\"auth\": {\n\t\"x\": true\n}}", "{\"auth\": {\n\t\"x\": true,\n\t\"required_token\": \"T\"\n}}"},
		{"replaces the token only", `{"b":[1, 2],"auth":{"required_token":"old","y":null},"c":"}"}`, `{"b":[1, 2],"auth":{"required_token":"T","y":null},"c":"}"}`},
		{"non-object auth becomes one", `{"auth": null}`, `{"auth": {"required_token": "T"}}`},
		{"edits the last duplicate", `{"auth":{},"auth":{"required_token":1}}`, `{"auth":{},"auth":{"required_token":"T"}}`},
		{"escaped quotes in keys", `{"a\"b": 1}`, `{"a\"b": 1, "auth": {"required_token": "T"}}`},
		{"keeps surrounding space", "  {}  \n", "  {\"auth\": {\"required_token\": \"T\"}}  \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := setJSONMember([]byte(tt.in), path, tok)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `"s"`, `{`, `{} x`, `{"a":}`, `null`} {
		if out, err := setJSONMember([]byte(bad), path, tok); err == nil {
			t.Errorf("setJSONMember(%q) = %q, want an error", bad, out)
		}
	}
}

// FuzzSetJSONMember checks, for any JSON object, that the result is valid
// JSON, reads the new value at the path, and keeps every other top-level
// member (and every other member of the edited object) equal.
func FuzzSetJSONMember(f *testing.F) {
	for _, s := range []string{`{}`, "{\n  \"auth\": {\"x\": 1}\n}", `{"auth":"s","a":[{"auth":1}]}`, `{"a\\":1,"auth":{"required_token":"q"}}`, " {\"\\u0061uth\":{}} "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var before map[string]any
		if json.Unmarshal(doc, &before) != nil || before == nil {
			if _, err := setJSONMember(doc, []string{"auth", "required_token"}, json.RawMessage(`"T"`)); err == nil {
				var v any
				if json.Unmarshal(doc, &v) != nil {
					t.Fatalf("accepted invalid JSON %q", doc)
				}
				if _, isObj := v.(map[string]any); !isObj {
					t.Fatalf("accepted a non-object %q", doc)
				}
			}
			return
		}
		out, err := setJSONMember(doc, []string{"auth", "required_token"}, json.RawMessage(`"T"`))
		if err != nil {
			t.Fatalf("setJSONMember(%q): %v", doc, err)
		}
		var after map[string]any
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("result %q is not JSON: %v (input %q)", out, err, doc)
		}
		auth, ok := after["auth"].(map[string]any)
		if !ok || auth["required_token"] != "T" {
			t.Fatalf("auth.required_token not set in %q (input %q)", out, doc)
		}
		if old, ok := before["auth"].(map[string]any); ok {
			delete(old, "required_token")
			delete(auth, "required_token")
			if diff := cmp.Diff(old, auth); diff != "" {
				t.Fatalf("other auth members changed (-before +after):\n%s", diff)
			}
		}
		delete(before, "auth")
		delete(after, "auth")
		if diff := cmp.Diff(before, after); diff != "" {
			t.Fatalf("other members changed (-before +after):\n%s\ninput %q\noutput %q", diff, doc, out)
		}
	})
}
