package unit

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// splitWords reads a setting's value the way systemd's extract_first_word
// does with EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE: words split at unquoted
// whitespace, quotes (anywhere in a word) group, backslash escapes. It knows
// the escapes the renderer can produce plus a few C ones, and fails on
// anything else, so a renderer bug shows as an error rather than a guess.
func splitWords(s string) ([]string, error) {
	var words []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			return words, nil
		}
		var b strings.Builder
		var quote byte
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i == len(s) {
					return nil, errors.New("trailing backslash")
				}
				switch s[i] {
				case '\\', '"', '\'':
					b.WriteByte(s[i])
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 's':
					b.WriteByte(' ')
				default:
					return nil, fmt.Errorf("unknown escape \\%c", s[i])
				}
			case quote != 0 && c == quote:
				quote = 0
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote == 0 && (c == ' ' || c == '\t'):
				goto end
			default:
				b.WriteByte(c)
			}
		}
		if quote != 0 {
			return nil, errors.New("unterminated quote")
		}
	end:
		words = append(words, b.String())
	}
}

// unSpecifier undoes "%%" and fails on any other specifier: a literal value
// must not contain one.
func unSpecifier(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		return "", fmt.Errorf("unescaped specifier in %q", s)
	}
	return b.String(), nil
}

// unDollar undoes "$$" and fails on a lone '$', which systemd would expand.
func unDollar(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		return "", fmt.Errorf("unescaped $ in %q", s)
	}
	return b.String(), nil
}

// readExec reads an ExecStart= value back into argv.
func readExec(line string) ([]string, error) {
	words, err := splitWords(line)
	if err != nil {
		return nil, err
	}
	if len(words) > 0 && words[0] == ";" {
		return nil, errors.New("command separator")
	}
	for i, w := range words {
		if w, err = unSpecifier(w); err != nil {
			return nil, err
		}
		if i > 0 {
			if w, err = unDollar(w); err != nil {
				return nil, err
			}
		}
		words[i] = w
	}
	return words, nil
}

// readEnv reads an Environment= value back into NAME=value assignments.
func readEnv(line string) ([]string, error) {
	words, err := splitWords(line)
	if err != nil {
		return nil, err
	}
	for i, w := range words {
		if words[i], err = unSpecifier(w); err != nil {
			return nil, err
		}
	}
	return words, nil
}

// tricky are values a home directory, PATH entry or argument may hold.
var tricky = []string{
	"plain",
	"",
	"with space",
	"two  spaces and\ttab",
	`double"quote`,
	`single'quote`,
	`back\slash`,
	`trailing\`,
	"100%",
	"%h literal",
	"%%",
	"$HOME",
	"$$",
	"${X}",
	";",
	"a;b",
	"ünïcødé ✓",
	`mix "of' %all\ $things;`,
}

func TestExecLineRoundTrip(t *testing.T) {
	for _, arg := range tricky {
		t.Run(arg, func(t *testing.T) {
			argv := []string{"/opt/para chute %x/parachute", "serve", arg, "--flag=" + arg}
			line := execLine(argv)
			got, err := readExec(line)
			if err != nil {
				t.Fatalf("reading back ExecStart=%s: %v", line, err)
			}
			if diff := cmp.Diff(argv, got); diff != "" {
				t.Errorf("ExecStart=%s reads back differently (-want +got):\n%s", line, diff)
			}
		})
	}
}

func TestQuoteEnvRoundTrip(t *testing.T) {
	for _, v := range tricky {
		t.Run(v, func(t *testing.T) {
			line := quoteEnv(EnvVar{Name: "K", Value: v})
			got, err := readEnv(line)
			if err != nil {
				t.Fatalf("reading back Environment=%s: %v", line, err)
			}
			if diff := cmp.Diff([]string{"K=" + v}, got); diff != "" {
				t.Errorf("Environment=%s reads back differently (-want +got):\n%s", line, diff)
			}
		})
	}
}

func TestQuoteEnvKeepsSpecifiers(t *testing.T) {
	got := quoteEnv(EnvVar{Name: "PARACHUTE_HOME", Value: "%h/.parachute", Specifiers: true})
	if want := `"PARACHUTE_HOME=%h/.parachute"`; got != want {
		t.Errorf("quoteEnv = %s, want %s", got, want)
	}
}

func TestQuoteWordLeavesPlainWordsBare(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"serve", "serve"},
		{"/usr/bin/parachute", "/usr/bin/parachute"},
		{"--port=1939", "--port=1939"},
		{"", `""`},
		{"a b", `"a b"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{";", `";"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := quoteWord(tc.in, false); got != tc.want {
				t.Errorf("quoteWord(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzExecLineRoundTrip: any argument a Service accepts reads back intact.
func FuzzExecLineRoundTrip(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		s := Service{Name: SystemdName, Label: LaunchdLabel, Argv: []string{"/bin/x", arg}}
		if s.Validate() != nil {
			return // control characters and invalid UTF-8 are refused, not escaped
		}
		got, err := readExec(execLine(s.Argv))
		if err != nil {
			t.Fatalf("reading back %q: %v", execLine(s.Argv), err)
		}
		if diff := cmp.Diff(s.Argv, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		env, err := readEnv(quoteEnv(EnvVar{Name: "K", Value: arg}))
		if err != nil || len(env) != 1 || env[0] != "K="+arg {
			t.Errorf("env round trip of %q = %q, %v", arg, env, err)
		}
	})
}
