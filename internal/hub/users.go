package hub

import (
	"net/http"
	"strings"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/oauth"
	"github.com/openparachute/parachute/internal/users"
)

// The admin's /api/users routes (package users has the handlers). Every
// one needs a parachute:host:admin bearer, checked after the method as on
// every API route; until hub.db is open they answer 503.

// usersAPI adapts a users handler to the hub's apiHandler.
func (s *Server) usersAPI(h func(*users.API, http.ResponseWriter, *http.Request) error) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p := s.web.Load()
		if p == nil || p.users == nil {
			return api.Errorf(http.StatusServiceUnavailable, api.CodeStarting, "the hub is still starting; retry in a moment")
		}
		return h(p.users, w, r)
	}
}

// newUsersAPI builds the /api/users handlers on the pages' account store.
func (s *Server) newUsersAPI(p *webPages) *users.API {
	return users.New(users.Options{Accounts: p.accounts, Logger: s.log.With("component", "users"),
		VaultNames: func() []string { return oauth.VaultNames(s.table.get().Services) }})
}

// handleUsers is /api/users: GET lists, POST creates.
func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.admin(s.usersAPI((*users.API).List))(w, r)
	case http.MethodPost:
		s.admin(s.usersAPI((*users.API).Create))(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeErr(w, api.Errorf(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "use GET or POST"))
	}
}

// dispatchUsers routes /api/users/vaults, /api/users/{id},
// /api/users/{id}/reset-password and /api/users/{id}/vaults by hand: the
// shapes overlap as ServeMux patterns.
func (s *Server) dispatchUsers(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.PathValue("rest"), "/")
	if len(parts) == 0 || len(parts) > 2 || parts[0] == "" || (len(parts) == 2 && parts[1] == "") {
		writeErr(w, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no API route %s %s", r.Method, r.URL.Path))
		return
	}
	r.SetPathValue("id", parts[0])
	switch {
	case len(parts) == 1 && parts[0] == "vaults":
		s.method("GET", s.admin(s.usersAPI((*users.API).Vaults)))(w, r)
	case len(parts) == 1:
		s.method("DELETE", s.admin(s.usersAPI((*users.API).Delete)))(w, r)
	case parts[1] == "reset-password":
		s.method("POST", s.admin(s.usersAPI((*users.API).ResetPassword)))(w, r)
	case parts[1] == "vaults":
		s.method("PATCH", s.admin(s.usersAPI((*users.API).SetVaults)))(w, r)
	default:
		writeErr(w, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no API route %s %s", r.Method, r.URL.Path))
	}
}
