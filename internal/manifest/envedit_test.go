package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSetEnv(t *testing.T) {
	tests := []struct {
		name, in, key, value, want string
	}{
		{"empty file", "", "A", "1", "A=\"1\"\n"},
		{"appends after comments", "# keep me\nB=2\n", "A", "1", "# keep me\nB=2\nA=\"1\"\n"},
		{"adds a missing final newline", "B=2", "A", "1", "B=2\nA=\"1\"\n"},
		{"replaces in place", "# c\nA=old # note\nB='x y'\n", "A", "new", "# c\nA=\"new\"\nB='x y'\n"},
		{"replaces the winning duplicate", "A=1\nA=2\nB=3\n", "A", "9", "A=1\nA=\"9\"\nB=3\n"},
		{"export prefix replaced", "export A=1\n", "A", "2", "A=\"2\"\n"},
		{"keeps CRLF", "B=2\r\nA=1\r\n", "A", "3", "B=2\r\nA=\"3\"\r\n"},
		{"appends with CRLF", "B=2\r\n", "A", "3", "B=2\r\nA=\"3\"\r\n"},
		{"escapes the value", "", "A", "a\"b\nc", "A=\"a\\\"b\\nc\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SetEnv([]byte(tt.in), tt.key, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("SetEnv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetEnvRefuses(t *testing.T) {
	for name, c := range map[string]struct{ in, key, value string }{
		"unparsable file": {"not an assignment\n", "A", "1"},
		"bad key":         {"", "1A", "1"},
		"NUL value":       {"", "A", "a\x00b"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := SetEnv([]byte(c.in), c.key, c.value); err == nil {
				t.Fatal("SetEnv succeeded; want an error")
			}
		})
	}
}

// FuzzSetEnv checks that SetEnv on any parsable file sets exactly the one
// key: the result parses, the key reads back as the value, and every other
// assignment is unchanged and in order.
func FuzzSetEnv(f *testing.F) {
	for _, s := range []string{"", "A=1\n", "# c\nB='x'\nA=\"q\"\n", "A=1\r\nA=2", "export A=1 # c\n", "\xef\xbb\xbfA=1\n"} {
		f.Add([]byte(s), "v")
	}
	f.Fuzz(func(t *testing.T, data []byte, value string) {
		before, err := ParseEnv(data)
		if err != nil {
			return
		}
		out, err := SetEnv(data, "A", value)
		if err != nil {
			if len(value) > 0 && containsNUL(value) {
				return
			}
			t.Fatalf("SetEnv(%q): %v", data, err)
		}
		after, err := ParseEnv(out)
		if err != nil {
			t.Fatalf("result %q does not parse: %v", out, err)
		}
		got := ""
		for _, v := range after {
			if v.Key == "A" {
				got = v.Value
			}
		}
		if got != value {
			t.Fatalf("A reads back %q, want %q (file %q)", got, value, out)
		}
		others := func(vs []EnvVar) []string {
			var o []string
			for _, v := range vs {
				if v.Key != "A" {
					o = append(o, v.Key+"="+v.Value)
				}
			}
			return o
		}
		if diff := cmp.Diff(others(before), others(after)); diff != "" {
			t.Fatalf("other assignments changed (-before +after):\n%s", diff)
		}
	})
}

func containsNUL(s string) bool {
	for i := range len(s) {
		if s[i] == 0 {
			return true
		}
	}
	return false
}
