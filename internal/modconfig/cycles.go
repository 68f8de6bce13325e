package modconfig

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxUnfolded caps how many subschemas a configSchema has once every
// $ref is replaced by what it points at: a bound on the validator's work
// per value of the config. A form of a few dozen fields unfolds to a few
// hundred.
const maxUnfolded = 10000

// checkLoops refuses a schema under which validation would never end or
// could take exponential time.
//
// Why: github.com/google/jsonschema-go follows $ref, allOf, not, … by
// plain recursion with no cycle check, so a schema such as
// {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}} recurses
// until the goroutine's stack overflows, which is fatal to the whole hub
// (recover cannot catch it). And it evaluates every branch of anyOf and
// oneOf, so a schema that recurses through properties under an anyOf of
// two branches takes 2^depth steps on a config nested that deep (3 s at
// depth 20, from a PUT of 120 bytes); $refs shared as a DAG multiply the
// same way. A config form is a finite tree of fields (the admin page
// cannot render a recursive one), so the hub refuses recursion of any
// kind and schemas that unfold to more than maxUnfolded subschemas.
//
// To follow every $ref without the library's URI resolution, a subschema
// may not start a new resource with its own $id (a draft-07 "$id": "#name"
// anchor is fine); the root may have one.
func checkLoops(doc map[string]any, base string) error {
	g := loopGraph{nodes: map[string]map[string]any{}, anchors: map[string][]string{}}
	if err := g.walk(doc, "", true); err != nil {
		return err
	}
	bases := []string{base}
	if id, ok := doc["$id"].(string); ok {
		if b, err := url.Parse(base); err == nil {
			if u, err := b.Parse(id); err == nil {
				u.Fragment = ""
				bases = append(bases, u.String())
			}
		}
	}
	edges := map[string][]string{}
	for ptr, s := range g.nodes {
		// Every keyword that applies a subschema: to the same value or,
		// below, to a part of it.
		for _, kw := range schemaKeywords {
			if _, ok := g.nodes[ptr+"/"+kw]; ok {
				edges[ptr] = append(edges[ptr], ptr+"/"+kw)
			}
		}
		for _, kw := range []string{"patternProperties", "properties"} {
			if m, ok := s[kw].(map[string]any); ok {
				for k := range m {
					if q := ptr + "/" + kw + "/" + escapePointer(k); g.nodes[q] != nil {
						edges[ptr] = append(edges[ptr], q)
					}
				}
			}
		}
		for _, kw := range []string{"items", "prefixItems"} {
			if _, ok := g.nodes[ptr+"/"+kw]; ok {
				edges[ptr] = append(edges[ptr], ptr+"/"+kw)
			}
			if arr, ok := s[kw].([]any); ok {
				for i := range arr {
					if q := ptr + "/" + kw + "/" + strconv.Itoa(i); g.nodes[q] != nil {
						edges[ptr] = append(edges[ptr], q)
					}
				}
			}
		}
		for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
			if arr, ok := s[kw].([]any); ok {
				for i := range arr {
					edges[ptr] = append(edges[ptr], ptr+"/"+kw+"/"+strconv.Itoa(i))
				}
			}
		}
		for _, kw := range []string{"dependentSchemas", "dependencies"} {
			if m, ok := s[kw].(map[string]any); ok {
				for k, v := range m {
					if _, isArray := v.([]any); !isArray {
						edges[ptr] = append(edges[ptr], ptr+"/"+kw+"/"+escapePointer(k))
					}
				}
			}
		}
		for _, kw := range []string{"$ref", "$dynamicRef"} {
			ref, ok := s[kw].(string)
			if !ok {
				continue
			}
			targets, err := g.targets(ref, bases)
			if err != nil {
				return fmt.Errorf("%s %q at %q: %w", kw, ref, ptr, err)
			}
			edges[ptr] = append(edges[ptr], targets...)
		}
	}
	for p, es := range edges {
		// Only edges to schema objects: true and false apply nothing
		// further (the keywords above may hold either).
		edges[p] = slices.DeleteFunc(es, func(q string) bool { return g.nodes[q] == nil })
	}
	// Depth-first search for a cycle; sorted for a deterministic message.
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var visit func(p string) []string
	visit = func(p string) []string {
		state[p] = onPath
		for _, q := range edges[p] {
			switch state[q] {
			case onPath:
				return []string{p, q}
			case unseen:
				if c := visit(q); c != nil {
					return append([]string{p}, c...)
				}
			}
		}
		state[p] = done
		return nil
	}
	ptrs := make([]string, 0, len(g.nodes))
	for p := range g.nodes {
		ptrs = append(ptrs, p)
	}
	slices.Sort(ptrs)
	for _, p := range ptrs {
		if state[p] != unseen {
			continue
		}
		if c := visit(p); c != nil {
			for i := range c {
				c[i] = "#" + c[i]
			}
			return fmt.Errorf("it loops: %s; a configSchema must be a finite tree of fields (the validator could recurse forever or take exponential time): write the nesting out", strings.Join(c, " → "))
		}
	}
	// Unfolded size, by memoised sums over the (now acyclic) graph,
	// saturating at the cap.
	size := map[string]int{}
	var unfold func(p string) int
	unfold = func(p string) int {
		if n, ok := size[p]; ok {
			return n
		}
		n := 1
		for _, q := range edges[p] {
			n = min(n+unfold(q), maxUnfolded+1)
		}
		size[p] = n
		return n
	}
	if n := unfold(""); n > maxUnfolded {
		return fmt.Errorf("it has more than %d subschemas once its $refs are followed (a form of a few dozen fields has a few hundred): share fewer $refs or split the form", maxUnfolded)
	}
	return nil
}

// loopGraph holds the schema objects of a document by JSON Pointer and
// its anchors.
type loopGraph struct {
	nodes   map[string]map[string]any
	anchors map[string][]string // anchor name → pointers
}

// Keywords whose value is a subschema, a map of them or an array of them
// (the ones the library walks).
var (
	schemaKeywords    = []string{"additionalItems", "additionalProperties", "contains", "contentSchema", "else", "if", "not", "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties"}
	schemaMapKeywords = []string{"$defs", "definitions", "dependencies", "dependentSchemas", "patternProperties", "properties"}
	schemaArrKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
)

func (g *loopGraph) walk(v any, ptr string, root bool) error {
	s, ok := v.(map[string]any)
	if !ok {
		return nil // true, false, or not a schema (the library refused it already)
	}
	g.nodes[ptr] = s
	if id, ok := s["$id"].(string); ok && !root {
		name, isAnchor := strings.CutPrefix(id, "#")
		if !isAnchor {
			return fmt.Errorf("the subschema at %q has its own $id %q: give $id only at the top of the schema (use $anchor or $defs to name parts)", ptr, id)
		}
		g.anchors[name] = append(g.anchors[name], ptr)
	}
	for _, kw := range []string{"$anchor", "$dynamicAnchor"} {
		if a, ok := s[kw].(string); ok {
			g.anchors[a] = append(g.anchors[a], ptr)
		}
	}
	for _, kw := range schemaKeywords {
		if err := g.walk(s[kw], ptr+"/"+kw, false); err != nil {
			return err
		}
	}
	if items, ok := s["items"].([]any); ok {
		for i, it := range items {
			if err := g.walk(it, ptr+"/items/"+strconv.Itoa(i), false); err != nil {
				return err
			}
		}
	} else if err := g.walk(s["items"], ptr+"/items", false); err != nil {
		return err
	}
	for _, kw := range schemaMapKeywords {
		m, _ := s[kw].(map[string]any)
		for k, sub := range m {
			if err := g.walk(sub, ptr+"/"+kw+"/"+escapePointer(k), false); err != nil {
				return err
			}
		}
	}
	for _, kw := range schemaArrKeywords {
		arr, _ := s[kw].([]any)
		for i, sub := range arr {
			if err := g.walk(sub, ptr+"/"+kw+"/"+strconv.Itoa(i), false); err != nil {
				return err
			}
		}
	}
	return nil
}

// targets returns the schema objects a reference can lead to.
func (g *loopGraph) targets(ref string, bases []string) ([]string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "" || u.Host != "" || u.Path != "" || u.RawQuery != "" {
		// After Resolve, a non-fragment reference can only name this
		// document by one of its URIs (remote ones were refused).
		named := false
		for _, base := range bases {
			b, err := url.Parse(base)
			if err != nil {
				return nil, err
			}
			whole := *b.ResolveReference(u)
			whole.Fragment = ""
			named = named || slices.Contains(bases, whole.String())
		}
		if !named {
			return nil, fmt.Errorf("it does not name this schema")
		}
	}
	frag := u.Fragment
	if frag == "" || strings.HasPrefix(frag, "/") {
		if _, ok := g.nodes[frag]; ok {
			return []string{frag}, nil
		}
		if v, _ := lookup(g.nodes[""], frag); v == true || v == false {
			return nil, nil // true and false apply nothing further
		}
		return nil, fmt.Errorf("it does not point at a subschema")
	}
	return g.anchors[frag], nil
}

// escapePointer encodes one JSON Pointer segment (RFC 6901).
func escapePointer(seg string) string {
	return strings.ReplaceAll(strings.ReplaceAll(seg, "~", "~0"), "/", "~1")
}
