package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []EnvVar
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "simple", in: "A=1\nB=two\n", want: []EnvVar{{"A", "1", 1}, {"B", "two", 2}}},
		{name: "comments and blanks", in: "# c\n\n  # indented\nA=1\n", want: []EnvVar{{"A", "1", 4}}},
		{name: "export prefix", in: "export A=1\nexport\tB=2\n", want: []EnvVar{{"A", "1", 1}, {"B", "2", 2}}},
		{name: "key named export", in: "export=1", want: []EnvVar{{"export", "1", 1}}},
		{name: "trimmed", in: "  A  =  x y  \n", want: []EnvVar{{"A", "x y", 1}}},
		{name: "CRLF", in: "A=1\r\nB=\"2\"\r\n", want: []EnvVar{{"A", "1", 1}, {"B", "2", 2}}},
		{name: "double quotes with escapes", in: `A="a\nb \"q\" \\ \t \x"`, want: []EnvVar{{"A", "a\nb \"q\" \\ \t \\x", 1}}},
		{name: "single quotes are literal", in: `A='a\n "b" # c'`, want: []EnvVar{{"A", `a\n "b" # c`, 1}}},
		{name: "quoted keeps spaces", in: `A="  x  "`, want: []EnvVar{{"A", "  x  ", 1}}},
		{name: "comment after quoted", in: `A="x" # note`, want: []EnvVar{{"A", "x", 1}}},
		{name: "comment after unquoted", in: "A=x # note\nB=y\t#n", want: []EnvVar{{"A", "x", 1}, {"B", "y", 2}}},
		{name: "hash inside a value", in: "A=a#b\nB=#c", want: []EnvVar{{"A", "a#b", 1}, {"B", "#c", 2}}},
		{name: "comment only value", in: "A= # nothing", want: []EnvVar{{"A", "", 1}}},
		{name: "empty value", in: "A=", want: []EnvVar{{"A", "", 1}}},
		{name: "equals in value", in: "URL=http://h/?a=b", want: []EnvVar{{"URL", "http://h/?a=b", 1}}},
		{name: "unterminated quote is literal", in: `A="abc`, want: []EnvVar{{"A", `"abc`, 1}}},
		{name: "text after closing quote is literal", in: `A="x" y`, want: []EnvVar{{"A", `"x" y`, 1}}},
		{name: "mismatched quotes are literal", in: `A="x'`, want: []EnvVar{{"A", `"x'`, 1}}},
		{name: "dotted key", in: "a.b_C=1", want: []EnvVar{{"a.b_C", "1", 1}}},
		{name: "BOM", in: "\ufeffA=1", want: []EnvVar{{"A", "1", 1}}},
		{name: "duplicates kept in order", in: "A=1\nA=2", want: []EnvVar{{"A", "1", 1}, {"A", "2", 2}}},
		{name: "no equals", in: "A=1\nJUNK\n", wantErr: "line 2: expected KEY=VALUE"},
		{name: "bad key", in: "\n\n1A=x", wantErr: `line 3: invalid key "1A"`},
		{name: "key with space", in: "A B=x", wantErr: `line 1: invalid key "A B"`},
		{name: "empty key", in: "=x", wantErr: `line 1: invalid key ""`},
		{name: "NUL in value", in: "A=\"a\\\x00\"\nB=x\x00", wantErr: "value of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnv([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseEnv error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEnv: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseEnv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormatEnvLine(t *testing.T) {
	for _, v := range []string{"", "plain", "  spaced  ", `q"uo\te`, "multi\nline\r\n", "#hash", "'single'", "tab\there"} {
		line := FormatEnvLine("K", v)
		got, err := ParseEnv([]byte(line))
		if err != nil || len(got) != 1 || got[0].Value != v {
			t.Errorf("FormatEnvLine(%q) = %s, which reads back as %+v, %v", v, line, got, err)
		}
	}
}

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	vars, err := LoadEnv(filepath.Join(dir, "missing", ".env"))
	if vars != nil || err != nil {
		t.Errorf("LoadEnv(missing) = %v, %v; want nil, nil", vars, err)
	}
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("SCRIBE_URL=http://127.0.0.1:3200\nbad line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadEnv(path)
	if err == nil || !strings.Contains(err.Error(), path+": line 2") {
		t.Errorf("LoadEnv error = %v, want it to name the file and line 2", err)
	}
}
