package hub

import (
	"errors"
	"net/http"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/api"
)

// handleMe is GET /api/me: who is asking. A request with an Authorization
// header is answered for its bearer, which must be a hub-audience token
// (auth.HubAudiences: an OAuth access token with aud "hub", or the
// operator token); a bad bearer is a 401 and never falls back to the
// cookie, so a client learns its token is dead. Without one it reads the
// browser session as the reference does: {hasSession:false} for nobody,
// else the user and the CSRF token (minting its cookie when missing). No
// scope is needed: the answer only describes the caller's own identity.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get("Authorization") != "" {
		c, aerr := s.bearer(r, "")
		if aerr != nil {
			return aerr
		}
		noteClaims(w, c)
		api.WriteJSON(w, http.StatusOK, api.MeResponse{
			User: &api.MeUser{ID: c.Subject, DisplayName: s.displayName(r, c.Subject)},
			Via:  "bearer", Scopes: c.Scopes(), ClientID: c.ClientID,
		})
		return nil
	}
	p := s.web.Load()
	if p == nil || p.sessions == nil {
		// hub.db is not open yet, so nobody can be signed in.
		api.WriteJSON(w, http.StatusOK, api.MeResponse{})
		return nil
	}
	uid, ok := p.sessions.Current(r)
	if !ok {
		api.WriteJSON(w, http.StatusOK, api.MeResponse{})
		return nil
	}
	csrf, err := p.sessions.CSRFToken(w, r)
	if err != nil {
		return api.Errorf(http.StatusInternalServerError, api.CodeInternal, "minting the CSRF token: %v", err)
	}
	api.WriteJSON(w, http.StatusOK, api.MeResponse{HasSession: true,
		User: &api.MeUser{ID: uid, DisplayName: s.displayName(r, uid)}, CSRF: csrf, Via: "session"})
	return nil
}

// displayName is the username of the user with id, or id itself when it
// names no user (the operator token's sub "operator", a deleted user) or
// the accounts store is not open yet.
func (s *Server) displayName(r *http.Request, id string) string {
	p := s.web.Load()
	if p == nil || p.accounts == nil {
		return id
	}
	u, err := p.accounts.ByID(r.Context(), id)
	if err != nil {
		if !errors.Is(err, accounts.ErrUserNotFound) {
			s.log.Warn("reading the user for /api/me", "user", id, "err", err)
		}
		return id
	}
	return u.Username
}
