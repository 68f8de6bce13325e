package hub

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
)

// maxJTILen caps the jti revoke-token accepts (the reference caps it too):
// ours are 32 hex characters, anything far longer is not a jti.
const maxJTILen = 128

// handleRevokeToken is POST /api/auth/revoke-token: {jti} → {jti,
// revoked_at}. A bearer may revoke what it could mint (auth.CanGrant over
// every scope of the token); parachute:host:auth may revoke any token.
// An unknown jti is 404 whatever the bearer holds.
func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) error {
	bearer, _ := r.Context().Value(claimsKey{}).(*auth.Claims)
	if bearer == nil {
		return apiErr(http.StatusUnauthorized, api.CodeUnauthenticated, "Authorization: Bearer <token> required")
	}
	held := bearer.Scopes()
	if !auth.HasMintingAuthority(held) {
		return apiErr(http.StatusForbidden, api.CodeInsufficientScope,
			"bearer token holds no revoking authority (need %s, %s or vault:<name>:admin)", auth.ScopeHostAuth, auth.ScopeHostAdmin)
	}
	var req api.RevokeTokenRequest
	if err := decodeOptionalJSON(w, r, &req); err != nil {
		return err
	}
	if req.JTI == "" || len(req.JTI) > maxJTILen {
		return apiErr(http.StatusBadRequest, api.CodeInvalidRequest, "jti is required (at most %d characters), e.g. {\"jti\":\"<jti>\"}; list them with `parachute auth list-tokens`", maxJTILen)
	}
	store := s.auth.Load()
	scopes, err := store.TokenScopes(r.Context(), req.JTI)
	if errors.Is(err, auth.ErrUnknownToken) {
		return apiErr(http.StatusNotFound, api.CodeNotFound, "no token %s in the registry (ephemeral tokens are not recorded and expire on their own)", req.JTI)
	}
	if err != nil {
		return err
	}
	if !slices.Contains(held, auth.ScopeHostAuth) {
		for _, sc := range scopes {
			if !auth.CanGrant(held, sc) {
				return apiErr(http.StatusForbidden, api.CodeInsufficientScope,
					"this bearer may not revoke token %s: it holds %s, which the bearer could not mint", req.JTI, sc)
			}
		}
	}
	at, err := store.RevokeAt(r.Context(), req.JTI)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.RevokeTokenResponse{JTI: req.JTI, RevokedAt: at.UTC().Format("2006-01-02T15:04:05.000Z")})
	return nil
}

// handleListTokens is GET /api/auth/tokens: the token registry, 50 rows a
// page, never a token or a refresh hash.
func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := auth.TokenFilter{Revoked: q.Get("revoked"), Subject: q.Get("subject"), CreatedVia: q.Get("created_via"), Cursor: q.Get("cursor")}
	if f.Revoked != "" && f.Revoked != "true" && f.Revoked != "false" {
		return apiErr(http.StatusBadRequest, api.CodeInvalidRequest, "revoked must be true or false")
	}
	rows, next, err := s.auth.Load().ListTokens(r.Context(), f)
	if err != nil {
		return err
	}
	out := api.TokensResponse{Tokens: make([]api.TokenRow, 0, len(rows))}
	for _, t := range rows {
		out.Tokens = append(out.Tokens, api.TokenRow{JTI: t.JTI, UserID: t.UserID, Subject: t.Subject, ClientID: t.ClientID,
			Scopes: t.Scopes, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, CreatedAt: t.CreatedAt, CreatedVia: t.CreatedVia,
			Permissions: t.Permissions})
	}
	if next != "" {
		out.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleRevocationList is /.well-known/parachute-revocation.json: the
// revoked, unexpired jtis, public (a jti is not a secret and modules fetch
// it without credentials), cacheable for a minute, readable cross-origin.
func (s *Server) handleRevocationList(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodHead:
	default:
		w.Header().Set("Allow", "GET, OPTIONS")
		writeErr(w, apiErr(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "use GET"))
		return
	}
	store := s.auth.Load()
	if store == nil {
		writeErr(w, apiErr(http.StatusServiceUnavailable, api.CodeStarting, "the hub is still starting; retry in a moment"))
		return
	}
	jtis, err := store.RevokedJTIs(r.Context())
	if err != nil {
		s.log.Error("revocation list", "err", err)
		writeErr(w, apiErr(http.StatusInternalServerError, api.CodeInternal, "could not read the token registry"))
		return
	}
	b, err := json.Marshal(api.RevocationDocument{GeneratedAt: s.now().UTC().Format("2006-01-02T15:04:05.000Z"), JTIs: jtis})
	if err != nil {
		writeErr(w, apiErr(http.StatusInternalServerError, api.CodeInternal, "could not encode the revocation list"))
		return
	}
	// Not writeJSON, which forbids caching: modules poll this document,
	// and the reference lets them and any cache keep it for a minute.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}
