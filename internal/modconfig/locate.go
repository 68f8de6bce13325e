package modconfig

import (
	"strconv"
	"strings"
)

// The schema library (github.com/google/jsonschema-go) answers a refused
// instance with one error: the first failure it met, as text that names
// the schemas it descended through and then the keyword that failed:
//
//	validating root: validating /properties/max_minutes: validating /definitions/m: maximum: 601/1 is greater than 600.000000
//
// It gives no instance location (github.com/google/jsonschema-go/issues/53)
// and stops at the first failure. locate reads the instance location back
// from the schema locations: a step into "properties/<name>" is a step
// into member <name>, a step into "items/<i>" or "prefixItems/<i>" one
// into element <i>; allOf, anyOf, oneOf, not, if/then/else, dependencies
// and a $ref jump stay on the same value. After a step the schema
// location cannot place exactly ("items" over all elements,
// additionalProperties, patternProperties, …) the path stops growing and
// is marked inexact: the failure is somewhere inside it. When the text
// does not have this shape (a future version of the library, a subschema
// with an $id) the failure is placed at the last location understood,
// also marked inexact; it is never placed wrongly. TestValidateLocations
// pins the format so that an upgrade that changes it fails there first.

// location is where one failure is, read from the library's error text.
type location struct {
	path   []string // the instance location (keys and array indices)
	exact  bool     // false: the failure is somewhere inside path
	schema string   // JSON Pointer of the schema whose keyword failed
	leaf   string   // the library's message for the keyword, "keyword: …"
}

// locate reads a location from the library's error text msg; doc is the
// schema document and root the library's name for it ("root", or its $id).
func locate(doc map[string]any, root, msg string) location {
	const step = "validating "
	loc := location{exact: true, leaf: msg}
	rest, ok := strings.CutPrefix(msg, step+root+": ")
	if !ok {
		loc.exact = false
		return loc
	}
	cur := "" // the JSON Pointer of the schema being descended through
	for strings.HasPrefix(rest, step) {
		ptr, after, ok := nextPointer(doc, rest[len(step):])
		if !ok {
			loc.exact = false
			break
		}
		if sub, isChild := strings.CutPrefix(ptr, cur+"/"); isChild && loc.exact {
			if hasRef(doc, cur) {
				// A $ref can point into its own schema's subschemas
				// ("$ref": "#/properties/a" at the root): that step
				// reads like a descent but stays on the same value.
				loc.exact = false
			} else {
				loc.exact = descend(&loc.path, strings.Split(sub, "/"))
			}
		} // else a $ref jump: the same instance against another schema
		cur, rest = ptr, after
	}
	loc.schema, loc.leaf = cur, rest
	if kw := keyword(rest); kw != "" {
		loc.schema += "/" + kw
	}
	return loc
}

// nextPointer finds the schema location at the start of s ("<pointer>: …")
// and returns it with the text after it. Names may contain ": ", so each
// candidate is checked against the schema document.
func nextPointer(doc map[string]any, s string) (ptr, rest string, ok bool) {
	for i := 0; ; {
		j := strings.Index(s[i:], ": ")
		if j < 0 {
			return "", "", false
		}
		cand := s[:i+j]
		if _, found := lookup(doc, cand); found && strings.HasPrefix(cand, "/") {
			return cand, s[i+j+2:], true
		}
		i += j + 2
	}
}

// descend applies one schema step (the pointer segments below the
// current schema) to the instance path and reports whether the path is
// still exact.
func descend(path *[]string, segs []string) bool {
	switch {
	case len(segs) == 2 && segs[0] == "properties":
		*path = append(*path, unescapePointer(segs[1]))
		return true
	case len(segs) == 2 && (segs[0] == "items" || segs[0] == "prefixItems"):
		// items/<i> is draft-07's tuple form: element i, exactly.
		*path = append(*path, segs[1])
		return true
	case len(segs) == 2 && (segs[0] == "allOf" || segs[0] == "anyOf" || segs[0] == "oneOf" ||
		segs[0] == "dependencies" || segs[0] == "dependentSchemas" ||
		segs[0] == "definitions" || segs[0] == "$defs"), // definitions: reached by a $ref only
		len(segs) == 1 && (segs[0] == "not" || segs[0] == "if" || segs[0] == "then" || segs[0] == "else"):
		return true // the same value, against a subschema
	default:
		return false
	}
}

// keyword is the keyword a leaf message is about ("maximum: …" →
// "maximum"), or "" when the message does not start with one.
func keyword(leaf string) string {
	if strings.HasPrefix(leaf, "unexpected additional properties ") {
		return "additionalProperties"
	}
	kw, _, ok := strings.Cut(leaf, ":")
	if !ok || kw == "" {
		return ""
	}
	for _, r := range kw {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return ""
		}
	}
	return kw
}

// names reads the member names the library lists after prefix in a leaf
// message, as Go's %q prints a []string: ["a" "b"]. ok is false when the
// message is not of that form.
func names(leaf, prefix string) (ns []string, ok bool) {
	s, ok := strings.CutPrefix(leaf, prefix)
	if !ok || !strings.HasPrefix(s, "[") {
		return nil, false
	}
	s = s[1:]
	for {
		s = strings.TrimPrefix(s, " ")
		if s == "]" {
			return ns, true
		}
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, false
		}
		n, err := strconv.Unquote(q)
		if err != nil {
			return nil, false
		}
		ns, s = append(ns, n), s[len(q):]
	}
}

// hasRef reports whether the schema at ptr has a $ref or $dynamicRef.
func hasRef(doc map[string]any, ptr string) bool {
	v, _ := lookup(doc, ptr)
	m, _ := v.(map[string]any)
	_, ref := m["$ref"]
	_, dyn := m["$dynamicRef"]
	return ref || dyn
}

// lookup returns the value ptr names in the schema document ("" is the
// document itself).
func lookup(doc map[string]any, ptr string) (any, bool) {
	var v any = doc
	if ptr == "" {
		return v, true
	}
	for _, seg := range strings.Split(ptr, "/")[1:] {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[unescapePointer(seg)]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// unescapePointer decodes one JSON Pointer segment (RFC 6901).
func unescapePointer(seg string) string {
	return strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
}
