package oauth

import (
	"net/http"
	"slices"
	"strings"

	"github.com/openparachute/parachute/internal/manifest"
)

// handleASMetadata serves RFC 8414 metadata. The endpoints are the
// canonical issuer's; scopes_supported never lists parachute:host:* (they
// are always refused).
func (s *Server) handleASMetadata(w http.ResponseWriter, r *http.Request) {
	iss := s.issuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                     iss,
		"authorization_endpoint":                     iss + "/oauth/authorize",
		"token_endpoint":                             iss + "/oauth/token",
		"registration_endpoint":                      iss + "/oauth/register",
		"revocation_endpoint":                        iss + "/oauth/revoke",
		"jwks_uri":                                   iss + "/.well-known/jwks.json",
		"response_types_supported":                   []string{"code"},
		"grant_types_supported":                      []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":           []string{"S256"},
		"token_endpoint_auth_methods_supported":      []string{"none", "client_secret_post", "client_secret_basic"},
		"revocation_endpoint_auth_methods_supported": []string{"none", "client_secret_post", "client_secret_basic"},
		"scopes_supported":                           advertised(s.o.Services()),
	})
}

// handlePRM serves RFC 9728 protected-resource metadata: for the hub at
// /.well-known/oauth-protected-resource, and for a module mount at
// /.well-known/oauth-protected-resource/<mount> (the RFC's path insertion),
// e.g. /vault/work, whose scopes are narrowed to that vault.
func (s *Server) handlePRM(w http.ResponseWriter, r *http.Request) {
	iss := s.issuer()
	rows := s.o.Services()
	scopes := advertised(rows)
	resource := iss
	if rest := strings.Trim(r.PathValue("rest"), "/"); rest != "" {
		mount := "/" + rest
		if !mounted(rows, mount) {
			writeOAuthError(w, http.StatusNotFound, "not_found", "no module is mounted at "+mount)
			return
		}
		resource = iss + mount
		if v, ok := strings.CutPrefix(mount, "/vault/"); ok {
			scopes = narrowToVault(scopes, v)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"resource":                 resource,
		"authorization_servers":    []string{iss},
		"scopes_supported":         scopes,
		"bearer_methods_supported": []string{"header"},
		"resource_documentation":   "https://parachute.computer",
	})
}

// mounted reports whether some services.json row is mounted at mount.
func mounted(rows []manifest.Service, mount string) bool {
	for _, row := range rows {
		if slices.ContainsFunc(row.Paths, func(p string) bool { return strings.TrimRight(p, "/") == mount }) {
			return true
		}
	}
	return false
}
