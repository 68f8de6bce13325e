package install

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// errNotObject means a JSON document (or a member on the path) is not an
// object.
var errNotObject = errors.New("not a JSON object")

// setJSONMember returns doc with the member at path (e.g. "auth",
// "required_token") set to the JSON value val, editing only the bytes of
// that member: every other member, the key order, the indentation and the
// file's other formatting survive byte for byte. A missing member is
// appended to its object; a member on the way that is not an object
// (null, a string) is replaced by one. doc must be a single JSON object;
// anything else (invalid JSON, an array, trailing garbage) is an error and
// nothing is returned to write. Duplicate keys: the last one is edited,
// the one encoding/json would read.
func setJSONMember(doc []byte, path []string, val json.RawMessage) ([]byte, error) {
	if len(path) == 0 {
		return nil, errors.New("empty JSON member path")
	}
	if !json.Valid(val) {
		return nil, errors.New("invalid JSON value")
	}
	if !json.Valid(doc) {
		var v any
		err := json.Unmarshal(doc, &v) // for its offset-bearing message
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	start, end := trimSpan(doc, 0, len(doc))
	if end-start < 2 || doc[start] != '{' {
		return nil, errNotObject
	}
	out, err := setIn(doc[start:end], path, val)
	if err != nil {
		return nil, err
	}
	return concat(doc[:start], out, doc[end:]), nil
}

// setIn sets path inside obj, which is exactly one valid JSON object.
func setIn(obj []byte, path []string, val json.RawMessage) ([]byte, error) {
	members, err := objectMembers(obj)
	if err != nil {
		return nil, err
	}
	var found *member
	for i := range members {
		if members[i].key == path[0] {
			found = &members[i]
		}
	}
	if found == nil {
		return appendMember(obj, members, path, val)
	}
	v := obj[found.valStart:found.valEnd]
	var repl []byte
	switch {
	case len(path) == 1:
		repl = val
	case v[0] == '{':
		if repl, err = setIn(v, path[1:], val); err != nil {
			return nil, err
		}
	default:
		repl = nest(path[1:], val)
	}
	return concat(obj[:found.valStart], repl, obj[found.valEnd:]), nil
}

// member is one member of an object: its key and the byte span of its value.
type member struct {
	key              string
	valStart, valEnd int
}

// objectMembers lists obj's members with their value spans, from the
// decoder's offsets (the value of a RawMessage ends at InputOffset and
// holds no surrounding white space).
func objectMembers(obj []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotObject
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected JSON token %v", t)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		end := int(dec.InputOffset())
		start := end - len(raw)
		if start < 0 || !bytes.Equal(obj[start:end], raw) {
			return nil, fmt.Errorf("locating the value of %q", key) // cannot happen with encoding/json
		}
		out = append(out, member{key: key, valStart: start, valEnd: end})
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return out, nil
}

// appendMember adds "path[0]": nest(path[1:], val) as obj's last member,
// indented like the member before it (or two spaces more than the brace's
// line when obj is empty and spans lines).
func appendMember(obj []byte, members []member, path []string, val json.RawMessage) ([]byte, error) {
	key, err := json.Marshal(path[0])
	if err != nil {
		return nil, err
	}
	entry := concat(key, []byte(": "), nest(path[1:], val))
	closing := bytes.LastIndexByte(obj, '}')
	if len(members) == 0 {
		inner := obj[1:closing]
		if bytes.IndexByte(inner, '\n') < 0 {
			return concat([]byte("{"), entry, []byte("}")), nil
		}
		_, closeIndent := lineIndent(obj, closing)
		return concat([]byte("{\n"+closeIndent+"  "), entry, obj[closing-len(closeIndent)-1:]), nil
	}
	last := members[len(members)-1]
	sep := []byte(", ")
	if keyAt, indent := lineIndent(obj, keyStart(obj, last.valStart)); keyAt {
		sep = []byte(",\n" + indent)
	}
	return concat(obj[:last.valEnd], sep, entry, obj[last.valEnd:]), nil
}

// keyStart is where the key of the member whose value starts at valStart
// begins: back over white space, the colon, white space and the quoted key.
func keyStart(obj []byte, valStart int) int {
	i := valStart - 1
	for i > 0 && obj[i] != ':' {
		i--
	}
	i--
	for i > 0 && obj[i] != '"' {
		i--
	}
	// i is the key's closing quote; find its unescaped opening quote.
	for i--; i > 0; i-- {
		if obj[i] == '"' && !escaped(obj, i) {
			return i
		}
	}
	return 0
}

// escaped reports whether the byte at i is preceded by an odd number of
// backslashes.
func escaped(b []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// lineIndent reports whether only white space precedes position i on its
// line, and that white space.
func lineIndent(b []byte, i int) (alone bool, indent string) {
	j := i
	for j > 0 && (b[j-1] == ' ' || b[j-1] == '\t') {
		j--
	}
	return j == 0 || b[j-1] == '\n', string(b[j:i])
}

// nest wraps val in objects keyed by path: nest([a b], v) is {"a": {"b": v}}.
func nest(path []string, val json.RawMessage) []byte {
	out := []byte(val)
	for i := len(path) - 1; i >= 0; i-- {
		k, _ := json.Marshal(path[i]) // a string always marshals
		out = concat([]byte("{"), k, []byte(": "), out, []byte("}"))
	}
	return out
}

// trimSpan narrows [start, end) of b past JSON white space.
func trimSpan(b []byte, start, end int) (int, int) {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for start < end && isSpace(b[start]) {
		start++
	}
	for end > start && isSpace(b[end-1]) {
		end--
	}
	return start, end
}

func concat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}
