package manifest

import (
	"fmt"
	"strings"
)

// SetEnv returns the dotenv contents data with key set to value. Every
// other line (comments, blank lines, other assignments, their quoting) is
// kept byte for byte. When key is assigned already, the line ParseEnv
// would let win (the last one) is rewritten in place with FormatEnvLine;
// otherwise a line is appended, after a newline when data does not end in
// one. data that ParseEnv refuses is refused too, so a file the hub cannot
// read is never half-rewritten. The line ending of the file ("\r\n" when
// its first line has one) is used for an appended line.
func SetEnv(data []byte, key, value string) ([]byte, error) {
	if !envKeyRE.MatchString(key) {
		return nil, fmt.Errorf("invalid .env key %q", key)
	}
	// Why: a NUL cannot be passed in an environment, and ParseEnv would
	// refuse the file on the next read.
	if strings.ContainsRune(value, 0) {
		return nil, fmt.Errorf("value of %s contains a NUL byte", key)
	}
	vars, err := ParseEnv(data)
	if err != nil {
		return nil, err
	}
	line := 0
	for _, v := range vars {
		if v.Key == key {
			line = v.Line
		}
	}
	text := string(data)
	if line == 0 {
		eol := "\n"
		if first, _, ok := strings.Cut(text, "\n"); ok && strings.HasSuffix(first, "\r") {
			eol = "\r\n"
		}
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += eol
		}
		return []byte(text + FormatEnvLine(key, value) + eol), nil
	}
	lines := strings.Split(text, "\n")
	cr := ""
	if strings.HasSuffix(lines[line-1], "\r") {
		cr = "\r"
	}
	lines[line-1] = FormatEnvLine(key, value) + cr
	return []byte(strings.Join(lines, "\n")), nil
}
