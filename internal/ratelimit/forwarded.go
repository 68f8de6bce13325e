package ratelimit

import "strings"

// forwardedFor returns the for= node of every element of RFC 7239 Forwarded
// header lines, in order. An element without for= yields "" so that the
// right-to-left walk stops there rather than skipping a hop.
func forwardedFor(values []string) []string {
	var nodes []string
	for _, v := range values {
		for _, elem := range splitOutsideQuotes(v, ',') {
			if strings.TrimSpace(elem) == "" {
				continue // 1#element allows empty list items
			}
			node := ""
			for _, pair := range splitOutsideQuotes(elem, ';') {
				name, value, ok := strings.Cut(pair, "=")
				if ok && strings.EqualFold(strings.TrimSpace(name), "for") {
					node = unquote(strings.TrimSpace(value))
				}
			}
			nodes = append(nodes, node)
		}
	}
	return nodes
}

// splitOutsideQuotes splits s at sep where sep is not inside an RFC 7230
// quoted-string (backslash escapes included).
func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	inQuote, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inQuote && c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unquote removes the quotes and backslash escapes of a quoted-string; a
// token is returned as is, and a malformed quoted string as "" (unparseable).
func unquote(v string) string {
	if !strings.HasPrefix(v, `"`) {
		return v
	}
	if len(v) < 2 || !strings.HasSuffix(v, `"`) {
		return ""
	}
	var b strings.Builder
	body := v[1 : len(v)-1]
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			i++
		}
		b.WriteByte(body[i])
	}
	return b.String()
}
