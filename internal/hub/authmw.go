package hub

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
)

type claimsKey struct{}

// admin wraps h with a bearer check for parachute:host:admin.
func (s *Server) admin(h apiHandler) http.HandlerFunc {
	return s.authed("parachute:host:admin", h)
}

// authed wraps h with a bearer check requiring scope, and the error
// wrapper (handle) that writes what h returns. An empty scope accepts any
// valid hub-audience token; h then decides what its scopes allow.
func (s *Server) authed(scope string, h apiHandler) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.bearer(r, scope)
		if err != nil {
			return err
		}
		noteClaims(w, c)
		return h(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

// bearer authenticates the request's operator token.
func (s *Server) bearer(r *http.Request, scope string) (*auth.Claims, *api.Error) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return nil, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "Authorization: Bearer <token> required (the operator token is in %s)", s.paths.OperatorToken())
	}
	tok := strings.TrimSpace(h[len(prefix):])
	if tok == "" {
		return nil, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "empty bearer token")
	}
	store := s.auth.Load()
	if store == nil {
		return nil, api.Errorf(http.StatusServiceUnavailable, api.CodeStarting, "the hub is still starting (loading its signing keys); retry in a moment")
	}
	c, err := store.Verify(r.Context(), tok, auth.VerifyOptions{
		Issuers: s.origins.Accepted(), Audiences: auth.HubAudiences()})
	if err != nil {
		msg := "bearer token invalid — " + err.Error()
		switch {
		case errors.Is(err, auth.ErrExpired):
			msg = "operator token expired — run `parachute auth rotate-operator` to mint a new one"
		case errors.Is(err, auth.ErrRevoked):
			msg = "operator token was revoked — run `parachute auth rotate-operator` to mint a new one"
		}
		return nil, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "%s", msg)
	}
	if scope != "" && !c.HasScope(scope) {
		return nil, api.Errorf(http.StatusForbidden, api.CodeInsufficientScope, "bearer token lacks %s", scope)
	}
	return c, nil
}
