package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/openparachute/parachute/internal/lazyre"
	"github.com/openparachute/parachute/internal/secfile"
)

// EnvVar is one KEY=VALUE assignment from a .env file.
type EnvVar struct {
	Key   string
	Value string
	// Line is the 1-based line the assignment is on.
	Line int
}

// envKeyRE is what a .env key must look like.
var envKeyRE = &lazyre.Regexp{Expr: `^[A-Za-z_][A-Za-z0-9_.]*$`}

// LoadEnv reads <root>/<short>/.env. A missing file is no variables and no
// error; a symlink or other non-regular file is refused (secfile.ErrNotRegular):
// .env holds module secrets and decides a child's environment, so it is
// never read through a link someone else may have planted.
func LoadEnv(path string) ([]EnvVar, error) {
	data, err := secfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	vars, err := ParseEnv(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return vars, nil
}

// ParseEnv parses dotenv contents, in order (a later duplicate key wins when
// the caller merges them):
//   - lines are split on "\n" (a trailing "\r" is dropped); blank lines
//     and lines starting with "#" are skipped; an "export " prefix is allowed;
//   - KEY=VALUE with the key trimmed and matching [A-Za-z_][A-Za-z0-9_.]*
//     (any other line is an error naming its line number);
//   - the value is trimmed; a value wrapped in matching "..." has the escapes
//     \n \r \t \" \\ expanded, one wrapped in '...' is taken literally, and an
//     unquoted value loses a " #comment" tail. A quoted value may be followed
//     by a comment only.
func ParseEnv(data []byte) ([]EnvVar, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM some editors add
	var out []EnvVar
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(t, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			t = strings.TrimLeft(rest, " \t")
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: expected KEY=VALUE, got %q", n, truncate(t, 40))
		}
		k = strings.TrimSpace(k)
		if !envKeyRE.MatchString(k) {
			return nil, fmt.Errorf("line %d: invalid key %q (want letters, digits, _ and ., not starting with a digit)", n, truncate(k, 40))
		}
		val := envValue(v)
		// Why: a NUL cannot be passed in an environment; exec would fail
		// later with a far less helpful error.
		if strings.ContainsRune(val, 0) {
			return nil, fmt.Errorf("line %d: value of %s contains a NUL byte", n, k)
		}
		out = append(out, EnvVar{Key: k, Value: val, Line: n})
	}
	return out, nil
}

// envValue decodes the text after "=".
func envValue(v string) string {
	t := strings.TrimSpace(v)
	if len(t) >= 2 && (t[0] == '"' || t[0] == '\'') {
		if val, rest, ok := unquote(t); ok {
			rest = strings.TrimSpace(rest)
			if rest == "" || rest[0] == '#' {
				return val
			}
		}
	}
	// Unquoted: a '#' that follows whitespace starts a comment (so "a#b" keeps its '#').
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			v = v[:i]
			break
		}
	}
	return strings.TrimSpace(v)
}

// unquote reads a quoted string at the start of s and returns its value and
// what follows the closing quote. ok is false when the quote is not closed.
func unquote(s string) (val, rest string, ok bool) {
	q := s[0]
	if q == '\'' {
		end := strings.IndexByte(s[1:], '\'')
		if end < 0 {
			return "", "", false
		}
		return s[1 : 1+end], s[2+end:], true
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\\':
				b.WriteByte(s[i])
			default: // unknown escapes are kept as written
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// FormatEnvLine renders KEY="VALUE" so that ParseEnv reads back exactly
// value: backslashes, double quotes, newlines, carriage returns and tabs are
// escaped.
func FormatEnvLine(key, value string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return key + `="` + r.Replace(value) + `"`
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
