package hub

import (
	"errors"
	"net/http"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/oauth"
)

// handleListClients is GET /api/oauth/clients[?status=pending|approved]:
// the registered OAuth clients without their secrets.
func (s *Server) handleListClients(w http.ResponseWriter, r *http.Request) error {
	status := r.URL.Query().Get("status")
	if status != "" && status != oauth.StatusPending && status != oauth.StatusApproved {
		return apiErr(http.StatusBadRequest, api.CodeInvalidRequest, "status must be pending or approved")
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
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleApproveClient is POST /api/oauth/clients/{id}/approve: a pending
// client becomes approved (idempotent); 404 for an unknown id.
func (s *Server) handleApproveClient(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := oauth.ApproveClient(r.Context(), s.auth.Load().DB(), id)
	if errors.Is(err, oauth.ErrNotFound) {
		return apiErr(http.StatusNotFound, api.CodeNotFound, "no OAuth client %q; list pending ones with `parachute auth pending-clients`", id)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"client_id": id, "status": oauth.StatusApproved})
	return nil
}

// handleListGrants is GET /api/grants[?username=]: who consented to which
// client with which scopes.
func (s *Server) handleListGrants(w http.ResponseWriter, r *http.Request) error {
	gs, err := oauth.ListGrants(r.Context(), s.auth.Load().DB(), r.URL.Query().Get("username"))
	if err != nil {
		return err
	}
	out := api.GrantsResponse{Grants: make([]api.GrantRow, 0, len(gs))}
	for _, g := range gs {
		out.Grants = append(out.Grants, api.GrantRow{UserID: g.UserID, Username: g.Username, ClientID: g.ClientID,
			ClientName: g.ClientName, Scopes: g.Scopes, GrantedAt: g.GrantedAt})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleRevokeGrant is DELETE /api/grants/{client_id}[?username=]: the
// grant goes and so do the client's tokens for those users; 204, or 404
// when there was no grant.
func (s *Server) handleRevokeGrant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("client_id")
	err := oauth.RevokeGrant(r.Context(), s.auth.Load().DB(), id, r.URL.Query().Get("username"), s.now())
	if errors.Is(err, oauth.ErrNotFound) {
		return apiErr(http.StatusNotFound, api.CodeNotFound, "no grant for client %q; list them with `parachute auth list-grants`", id)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
