package hub

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/oauth"
)

// handleListClients is GET /api/oauth/clients[?status=pending|approved]:
// the registered OAuth clients without their secrets.
func (s *Server) handleListClients(w http.ResponseWriter, r *http.Request) error {
	status := r.URL.Query().Get("status")
	if status != "" && status != oauth.StatusPending && status != oauth.StatusApproved {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "status must be pending or approved")
	}
	cs, err := oauth.ListClients(r.Context(), s.auth.Load().DB(), status)
	if err != nil {
		return err
	}
	out := api.ClientsResponse{Clients: make([]api.ClientRow, 0, len(cs))}
	for _, c := range cs {
		out.Clients = append(out.Clients, api.ClientRow{ClientID: c.ID, ClientName: c.Name, RedirectURIs: c.RedirectURIs,
			Scopes: c.Scopes, RegisteredAt: c.RegisteredAt, Status: c.Status})
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

// handleApproveClient is POST /api/oauth/clients/{id}/approve: a pending
// client becomes approved (idempotent); 404 for an unknown id.
func (s *Server) handleApproveClient(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := oauth.ApproveClient(r.Context(), s.auth.Load().DB(), id)
	if errors.Is(err, oauth.ErrNotFound) {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "no OAuth client %q; list pending ones with `parachute auth pending-clients`", id)
	}
	if err != nil {
		return err
	}
	s.log.Info("client approved", "client_id", id)
	api.WriteJSON(w, http.StatusOK, map[string]string{"client_id": id, "status": oauth.StatusApproved})
	return nil
}

// handleListGrants is GET /api/grants[?vault=][&username=]: who consented
// to which client with which scopes. vault keeps the grants with a
// vault:<name>:* scope (the whole scope set is still listed).
func (s *Server) handleListGrants(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	vault := q.Get("vault")
	if q.Has("vault") && !validVaultFilter(vault) {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "vault must match [a-zA-Z0-9_-]+")
	}
	gs, err := oauth.ListGrants(r.Context(), s.auth.Load().DB(), q.Get("username"))
	if err != nil {
		return err
	}
	out := api.GrantsResponse{Grants: make([]api.GrantRow, 0, len(gs))}
	for _, g := range gs {
		scopes := strings.Fields(g.Scopes)
		if vault != "" && !slices.ContainsFunc(scopes, func(sc string) bool { return strings.HasPrefix(sc, "vault:"+vault+":") }) {
			continue
		}
		out.Grants = append(out.Grants, api.GrantRow{UserID: g.UserID, Username: g.Username, ClientID: g.ClientID,
			ClientName: g.ClientName, Scopes: scopes, GrantedAt: g.GrantedAt})
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

// validVaultFilter accepts a vault name as the reference's filter does.
func validVaultFilter(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// handleRevokeGrant is DELETE /api/grants/{client_id}[?username=]: the
// grant goes and so do the client's tokens for those users; 204, or 404
// when there was no grant.
func (s *Server) handleRevokeGrant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("client_id")
	err := oauth.RevokeGrant(r.Context(), s.auth.Load().DB(), id, r.URL.Query().Get("username"), s.now())
	if errors.Is(err, oauth.ErrNotFound) {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "no grant for client %q; list them with `parachute auth list-grants`", id)
	}
	if err != nil {
		return err
	}
	s.log.Info("grant revoked", "client_id", id, "username", r.URL.Query().Get("username"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
