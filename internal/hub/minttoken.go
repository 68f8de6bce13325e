package hub

import (
	"net/http"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/hubdb"
)

// handleMintToken is POST /api/auth/mint-token: a token for a module or a
// script, signed with the hub's canonical issuer (the PARACHUTE_HUB_ORIGIN
// its modules pin), under capability attenuation (auth.CanGrant): the
// bearer can only hand out authority it holds, and one scope it may not
// grant refuses the whole request.
func (s *Server) handleMintToken(w http.ResponseWriter, r *http.Request) error {
	bearer, held, aerr := tokenAuthority(r, "minting")
	if aerr != nil {
		return aerr
	}
	var req api.MintTokenRequest
	if err := api.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	scopes := strings.Fields(req.Scope)
	if len(scopes) == 0 {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "scope is required, e.g. {\"scope\":\"vault:default:read\"}")
	}
	var blocked []string
	for _, sc := range scopes {
		if !auth.CanGrant(held, sc) {
			blocked = append(blocked, sc)
		}
	}
	if len(blocked) > 0 {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidScope,
			"scope %s is not grantable by this bearer (parachute:host:* is never mintable; a vault admin mints only its own vault)",
			strings.Join(blocked, ", "))
	}
	if req.ExpiresIn < 0 || time.Duration(req.ExpiresIn)*time.Second > auth.MintMaxTTL {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "expires_in must be between 1 and %d seconds", int64(auth.MintMaxTTL/time.Second))
	}
	if req.Ephemeral && req.ExpiresIn != 0 {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "ephemeral tokens have a fixed lifetime; send either ephemeral or expires_in")
	}
	subject := bearer.Subject
	if req.Subject != "" && req.Subject != bearer.Subject {
		// Why: the subject is what the registry and audit lines attribute a
		// token to; a vault admin must not mint under someone else's name.
		if !auth.IsOperatorBearer(held) {
			return api.Errorf(http.StatusForbidden, api.CodeInsufficientScope,
				"only a host operator token may set another subject; omit subject to mint under your own")
		}
		subject = req.Subject
	}
	if p := strings.TrimSpace(string(req.Permissions)); p != "" && !strings.HasPrefix(p, "{") {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "permissions must be a JSON object")
	}
	store := s.auth.Load()
	tok, c, err := store.MintToken(r.Context(), auth.MintRequest{
		Issuer:      s.origins.Issuer(),
		Subject:     subject,
		Scopes:      scopes,
		Audience:    req.Audience,
		TTL:         time.Duration(req.ExpiresIn) * time.Second,
		VaultScope:  auth.VaultPins(held, scopes),
		Permissions: req.Permissions,
		Ephemeral:   req.Ephemeral,
	})
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, api.MintTokenResponse{
		JTI: c.JTI, Token: tok, ExpiresAt: hubdb.FormatTime(c.Expiry()),
		Scope: c.Scope, Audience: c.Audience, Permissions: req.Permissions,
	})
	return nil
}

// tokenAuthority is the first step of the token routes (mint, revoke): the
// request's authenticated claims and their scopes, refused unless they
// carry authority over tokens (host:auth, host:admin or vault:<n>:admin).
// what names the act in the 403 ("minting", "revoking").
func tokenAuthority(r *http.Request, what string) (*auth.Claims, []string, *api.Error) {
	bearer, _ := r.Context().Value(claimsKey{}).(*auth.Claims)
	if bearer == nil {
		return nil, nil, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "Authorization: Bearer <token> required")
	}
	held := bearer.Scopes()
	if !auth.HasMintingAuthority(held) {
		return nil, nil, api.Errorf(http.StatusForbidden, api.CodeInsufficientScope,
			"bearer token holds no %s authority (need %s, %s or vault:<name>:admin)", what, auth.ScopeHostAuth, auth.ScopeHostAdmin)
	}
	return bearer, held, nil
}
