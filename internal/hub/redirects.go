package hub

import (
	"net/http"
	"net/url"
	"strings"
)

// The reference's permanent redirects for URLs that moved (hub-server.ts:
// the admin pages' rename in hub#231, the sign-in pages' rename, and
// notes-as-app, which moved /notes/* to /surface/notes/*). They are
// registered ahead of the proxy so cached bookmarks keep working.

// redirectPatterns are the ServeMux patterns handleLegacyRedirect serves.
var redirectPatterns = []string{
	"/vault", "/vault/{$}", "/vault/new",
	"/hub", "/hub/{$}", "/hub/vaults", "/hub/vaults/", "/hub/permissions", "/hub/tokens",
	"/admin/login", "/admin/logout",
	"/notes", "/notes/",
}

// legacyTarget returns where a moved path now lives, for a path that
// redirectPatterns matched.
func legacyTarget(p string) (prefix, to string, ok bool) {
	switch p {
	case "/vault", "/vault/", "/hub", "/hub/":
		return p, "/admin/vaults", true
	case "/vault/new":
		return p, "/admin/vaults/new", true
	case "/hub/permissions":
		return p, "/admin/permissions", true
	case "/hub/tokens":
		return p, "/admin/tokens", true
	case "/admin/login":
		return p, "/login", true
	case "/admin/logout":
		return p, "/logout", true
	}
	for _, m := range []struct{ from, to string }{{"/hub/vaults", "/admin/vaults"}, {"/notes", "/surface/notes"}} {
		if p == m.from || strings.HasPrefix(p, m.from+"/") {
			return m.from, m.to, true
		}
	}
	return "", "", false
}

// handleLegacyRedirect answers 301 to the moved path, keeping the rest of
// the path and the query. Any method is redirected, as in the reference.
//
// Why a mounted module wins: the reference redirected /notes/* unless the
// operator set a hub_settings flag, so a hub still running the notes
// module (mounted on /notes) sent its users into a redirect to a 404. Here
// a module that is actually mounted on the path keeps it, with no flag.
// The same holds for a vault instance named "new" (/vault/new).
func (s *Server) handleLegacyRedirect(w http.ResponseWriter, r *http.Request) {
	prefix, to, ok := legacyTarget(r.URL.Path)
	if !ok {
		s.handleProxy(w, r)
		return
	}
	if _, _, mounted := matchMount(s.table.get(), r.URL.Path); mounted {
		s.handleProxy(w, r)
		return
	}
	tail := strings.TrimPrefix(r.URL.Path, prefix)
	if esc := r.URL.EscapedPath(); strings.HasPrefix(esc, prefix) {
		tail = esc[len(prefix):] // keep the client's escaping of the rest
	} else {
		tail = (&url.URL{Path: tail}).EscapedPath()
	}
	loc := to + tail
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusMovedPermanently)
}
