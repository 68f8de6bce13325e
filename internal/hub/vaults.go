package hub

import (
	"net/http"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/vaults"
)

// vaultsAPI is the vault-instance endpoints (package vaults) on this
// hub's module operations, token store and routing table.
func (s *Server) vaultsAPI() *vaults.Handler {
	return &vaults.Handler{
		Ops:    s.ops,
		Auth:   s.auth.Load,
		Issuer: s.origins.Issuer,
		Rows:   func() []manifest.Service { return s.table.get().Services },
		Log:    s.log.With("component", "vaults"),
	}
}

// adminSessionOrBearer authenticates GET /admin/vault-admin-token/<name>
// and hands h the admin's subject: the first admin's browser session (the
// vault UI is opened from the hub's pages), else a bearer with
// parachute:host:admin. A signed-in user who is not the admin gets 403,
// not a fallback to the bearer: a friend must not reach vault admin.
func (s *Server) adminSessionOrBearer(h func(w http.ResponseWriter, r *http.Request, name, subject string) error) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if uid, ok := (hubSessions{s}).Current(r); ok {
			// Why: the session cookie rides along on any request the
			// browser makes; a token minted for another site's request is
			// never wanted (it could not read it, but need not cause one).
			if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				return api.Errorf(http.StatusForbidden, api.CodeCrossOrigin, "cross-site requests cannot mint vault admin tokens")
			}
			p := s.web.Load()
			if p == nil {
				return api.Errorf(http.StatusServiceUnavailable, api.CodeStarting, "the hub is starting; retry in a moment")
			}
			admin, err := p.accounts.IsAdmin(r.Context(), uid)
			if err != nil {
				return err
			}
			if !admin {
				return api.Errorf(http.StatusForbidden, api.CodeInsufficientScope,
					"vault admin tokens are only for the hub admin — your account home is at /account/")
			}
			return h(w, r, name, uid)
		}
		if r.Header.Get("Authorization") == "" {
			return api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "no admin session — sign in at /login first")
		}
		c, aerr := s.bearer(r, "parachute:host:admin")
		if aerr != nil {
			return aerr
		}
		noteClaims(w, c)
		return h(w, r, name, c.Subject)
	})
}

// handleCreateVault is POST /vaults (vaults.Handler.Create). It answers
// once vault has restarted with the new instance, so it gets the long
// write deadline of the routes that wait for a module.
func (s *Server) handleCreateVault(w http.ResponseWriter, r *http.Request) error {
	extendWriteDeadline(w, s.limits.LongWriteTimeout)
	return s.vaultsAPI().Create(w, r)
}
