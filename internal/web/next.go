package web

import (
	"net/url"
	"strings"
)

// DefaultNext is where a sign-in lands without a usable next. The
// reference sends the admin to /admin/vaults; until the admin pages land
// (a later issue) everyone lands on their account page.
const DefaultNext = "/account/"

// maxNextBytes caps a next target.
const maxNextBytes = 2048

// safeNext keeps next only if it is a path on this hub (reference
// server.md §3b: starts with "/" and not "//"), and friends (non-admins)
// asking for /admin/* get /account/.
//
// Stricter than the reference: a backslash or any control character is
// refused too, because browsers read "/\evil.example" as
// "//evil.example", and a next that parses with a scheme or host is refused.
func safeNext(next string, admin bool) string {
	if next == "" || len(next) > maxNextBytes || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\") {
		return DefaultNext
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return DefaultNext
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return DefaultNext
	}
	if !admin && (u.Path == "/admin" || strings.HasPrefix(u.Path, "/admin/")) {
		return DefaultNext
	}
	return next
}
