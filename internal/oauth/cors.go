package oauth

import (
	"net/http"
	"strings"
)

// oauthCORS adds the /oauth/* CORS headers of reference server.md §4c and
// answers preflights. Browser-based MCP clients call the token and
// registration endpoints cross-origin; they hold no cookie-bound power
// there (client auth and PKCE bind those calls), so echoing the Origin is
// what lets them work. The echo carries credentials only for the pages
// that need the session; cookies are SameSite=Lax, so a cross-site page
// still cannot ride the session.
//
// The authorize pages get no CORS headers at all, unlike the reference:
// they are top-level navigations that never need them, and a credentialed
// echo there would let any same-site sibling origin read the consent page,
// CSRF token included (server.md §4c).
func oauthCORS(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/oauth/authorize") {
			h(w, r)
			return
		}
		hd := w.Header()
		if o := r.Header.Get("Origin"); o != "" {
			hd.Set("Access-Control-Allow-Origin", o)
			hd.Set("Access-Control-Allow-Credentials", "true")
			hd.Add("Vary", "Origin")
		} else {
			hd.Set("Access-Control-Allow-Origin", "*")
		}
		hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Requested-With")
		hd.Set("Access-Control-Max-Age", "86400")
		hd.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	}
}

// wellKnownCORS is the public-document CORS of /.well-known/*: any origin,
// no credentials.
func wellKnownCORS(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		switch r.Method {
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet, http.MethodHead:
			h(w, r)
		default:
			methodNotAllowed(w, "GET, OPTIONS")
		}
	}
}
