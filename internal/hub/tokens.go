package hub

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/hubdb"
)

// maxJTILen caps the jti revoke-token accepts, as the reference does: a
// jti is short, and the value is echoed into messages and logs.
const maxJTILen = 256

// handleRevokeToken is POST /api/auth/revoke-token: {jti} → {jti,
// revoked_at}. A bearer may revoke what it could mint (auth.CanGrant over
// every scope of the token); parachute:host:auth may revoke any token.
// An unknown jti is 404 whatever the bearer holds. The live operator token
// is refused with 409 unless break_glass: revoking it would lock the CLI's
// module verbs out while operator.token still looks fine.
func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) error {
	bearer, held, aerr := tokenAuthority(r, "revoking")
	if aerr != nil {
		return aerr
	}
	var req api.RevokeTokenRequest
	if err := api.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.JTI == "" || len(req.JTI) > maxJTILen {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "jti is required (at most %d characters), e.g. {\"jti\":\"<jti>\"}; list them with `parachute auth list-tokens`", maxJTILen)
	}
	store := s.auth.Load()
	scopes, err := store.TokenScopes(r.Context(), req.JTI)
	if errors.Is(err, auth.ErrUnknownToken) {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "no token %s in the registry (ephemeral tokens are not recorded and expire on their own)", req.JTI)
	}
	if err != nil {
		return err
	}
	if !slices.Contains(held, auth.ScopeHostAuth) {
		// Why: with no scopes the loop below would pass vacuously, letting
		// any vault admin revoke a scopeless row; only host:auth may.
		if len(scopes) == 0 {
			return api.Errorf(http.StatusForbidden, api.CodeInsufficientScope,
				"token %s records no scopes; only a %s bearer may revoke it", req.JTI, auth.ScopeHostAuth)
		}
		for _, sc := range scopes {
			if !auth.CanGrant(held, sc) {
				return api.Errorf(http.StatusForbidden, api.CodeInsufficientScope,
					"this bearer may not revoke token %s: it holds %s, which the bearer could not mint", req.JTI, sc)
			}
		}
	}
	// liveOperatorJTI verifies the file's token, so an operator token
	// already revoked is not "live" and re-revoking it stays idempotent.
	if !req.BreakGlass && req.JTI == s.liveOperatorJTI(r) {
		return api.Errorf(http.StatusConflict, api.CodeLiveOperatorToken,
			"token %s is the live operator token in %s, which the CLI's module verbs use; run `parachute auth rotate-operator` instead (or send break_glass to revoke it anyway)",
			req.JTI, s.paths.OperatorToken())
	}
	at, err := store.RevokeAt(r.Context(), req.JTI)
	if err != nil {
		return err
	}
	s.log.Info("token revoked", "jti", req.JTI, "revoked_by", bearer.Subject, "break_glass", req.BreakGlass)
	api.WriteJSON(w, http.StatusOK, api.RevokeTokenResponse{JTI: req.JTI, RevokedAt: hubdb.FormatTime(at)})
	return nil
}

// liveOperatorJTI is the jti of the token in operator.token, or "" when
// there is none this hub accepts.
func (s *Server) liveOperatorJTI(r *http.Request) string {
	tok, _, err := auth.ReadTokenFile(s.paths.OperatorToken())
	if err != nil {
		return ""
	}
	c, err := s.auth.Load().Verify(r.Context(), tok, auth.VerifyOptions{Issuers: s.origins.Accepted(), Audiences: auth.HubAudiences()})
	if err != nil {
		return ""
	}
	return c.JTI
}

// knownCreatedVia are the registry's created_via values the list filters by.
var knownCreatedVia = []string{"oauth_refresh", auth.CreatedViaOperatorMint, auth.CreatedViaCLIMint, "connection_provision"}

// handleListTokens is GET /api/auth/tokens: the token registry, 50 rows a
// page, never a token or a refresh hash.
func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := auth.TokenFilter{Revoked: q.Get("revoked"), Subject: q.Get("subject"), CreatedVia: q.Get("created_via"), Cursor: q.Get("cursor")}
	if f.Revoked != "" && f.Revoked != "true" && f.Revoked != "false" && f.Revoked != "all" {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "revoked must be one of: true | false | all")
	}
	if f.CreatedVia != "" && !slices.Contains(knownCreatedVia, f.CreatedVia) {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "created_via must be one of: %s", strings.Join(knownCreatedVia, " | "))
	}
	rows, next, err := s.auth.Load().ListTokens(r.Context(), f)
	if errors.Is(err, auth.ErrBadCursor) {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "cursor is not one this hub handed out; start again without it")
	}
	if err != nil {
		return err
	}
	out := api.TokensResponse{Tokens: make([]api.TokenRow, 0, len(rows))}
	for _, t := range rows {
		out.Tokens = append(out.Tokens, api.TokenRow{JTI: t.JTI, UserID: t.UserID, Subject: t.Subject, ClientID: t.ClientID,
			Scopes: t.Scopes, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, CreatedAt: t.CreatedAt, CreatedVia: t.CreatedVia,
			Permissions: permissionsJSON(t.Permissions)})
	}
	if next != "" {
		out.NextCursor = &next
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

// permissionsJSON is a recorded permissions column as the wire's object,
// or null when empty or not a JSON object (the reference's defence too).
func permissionsJSON(p *string) json.RawMessage {
	if p == nil {
		return nil
	}
	var obj map[string]any
	if json.Unmarshal([]byte(*p), &obj) != nil || obj == nil {
		return nil
	}
	return json.RawMessage(*p)
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
		writeErr(w, api.Errorf(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "use GET"))
		return
	}
	store := s.auth.Load()
	if store == nil {
		writeErr(w, api.Errorf(http.StatusServiceUnavailable, api.CodeStarting, "the hub is still starting; retry in a moment"))
		return
	}
	jtis, err := store.RevokedJTIs(r.Context())
	if err != nil {
		s.log.Error("revocation list", "err", err)
		writeErr(w, api.Errorf(http.StatusInternalServerError, api.CodeInternal, "could not read the token registry"))
		return
	}
	b, err := json.Marshal(api.RevocationDocument{GeneratedAt: hubdb.FormatTime(s.now()), JTIs: jtis})
	if err != nil {
		writeErr(w, api.Errorf(http.StatusInternalServerError, api.CodeInternal, "could not encode the revocation list"))
		return
	}
	// Not api.WriteJSON, which forbids caching: modules poll this document,
	// and the reference lets them and any cache keep it for a minute.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}
