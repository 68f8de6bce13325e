package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/hubdb"
)

// registerRequest is the RFC 7591 client metadata the hub reads.
type registerRequest struct {
	RedirectURIs []string `json:"redirect_uris"`
	Scope        string   `json:"scope"`
	ClientName   string   `json:"client_name"`
	AuthMethod   string   `json:"token_endpoint_auth_method"`
}

// registerResponse is the 201 body (reference server.md §1b).
type registerResponse struct {
	ClientID     string   `json:"client_id"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	ResponseType []string `json:"response_types"`
	AuthMethod   string   `json:"token_endpoint_auth_method"`
	IssuedAt     int64    `json:"client_id_issued_at"`
	Status       string   `json:"status"`
	SameHub      bool     `json:"same_hub"`
	Scope        string   `json:"scope,omitempty"`
	ClientName   string   `json:"client_name,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
}

// handleRegister is POST /oauth/register (RFC 7591). A new client is
// pending until the admin approves it, unless the registration itself
// carries the admin's authority: a bearer with hub:admin or a same-origin
// request with a session (both approved and same_hub), or the setup
// wizard's one-shot first-client window (approved). A confidential client
// gets its secret once; only the SHA-256 is kept.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deps(w)
	if !ok {
		return
	}
	var req registerRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxForm))
	if err := dec.Decode(&req); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "the body must be a JSON object")
		return
	}
	if err := checkRedirectURIs(req.RedirectURIs); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_redirect_uri", err.Error())
		return
	}
	c := Client{RedirectURIs: req.RedirectURIs, Scopes: strings.Fields(req.Scope), Status: StatusPending,
		Name: strings.TrimSpace(req.ClientName), RegisteredAt: s.now()}
	if len(c.Name) > 200 || len(c.Scopes) > 64 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "client_name or scope is too long")
		return
	}
	for _, sc := range c.Scopes {
		if !auth.Requestable(sc) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "scope "+sc+" cannot be requested")
			return
		}
	}
	var secret string
	switch req.AuthMethod {
	case "", "none":
		req.AuthMethod = "none"
	case "client_secret_post", "client_secret_basic":
		secret = newSecret(32)
		c.SecretHash = hubdb.HashSecret(secret)
	default:
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "token_endpoint_auth_method must be none, client_secret_post or client_secret_basic")
		return
	}
	if !s.registrationStatus(w, r, d, &c) {
		return
	}
	c.ID = newSecret(16)
	if err := d.store.CreateClient(r.Context(), c); err != nil {
		s.serverError(w, err)
		return
	}
	s.o.Logger.Info("oauth client registered", "client_id", c.ID, "status", c.Status, "same_hub", c.SameHub)
	writeJSON(w, http.StatusCreated, registerResponse{ClientID: c.ID, RedirectURIs: c.RedirectURIs,
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseType: []string{"code"},
		AuthMethod: req.AuthMethod, IssuedAt: c.RegisteredAt.Unix(), Status: c.Status, SameHub: c.SameHub,
		Scope: strings.Join(c.Scopes, " "), ClientName: c.Name, ClientSecret: secret})
}

// registrationStatus decides whether c starts approved; it writes the
// error answer itself when the request's bearer is bad.
func (s *Server) registrationStatus(w http.ResponseWriter, r *http.Request, d deps, c *Client) bool {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "Authorization must be a Bearer token")
			return false
		}
		claims, err := d.auth.Verify(ctx, strings.TrimSpace(tok), auth.VerifyOptions{
			Issuers: s.o.Origins(), Audiences: auth.HubAudiences()})
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeOAuthError(w, http.StatusUnauthorized, "invalid_token", err.Error())
			return false
		}
		if !claims.HasScope("hub:admin") {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="hub:admin"`)
			writeOAuthError(w, http.StatusForbidden, "insufficient_scope", "registering an approved client needs hub:admin")
			return false
		}
		c.Status, c.SameHub = StatusApproved, true
		return true
	}
	if _, ok := s.session(r); ok && sameOrigin(r, s.o.Origins()) {
		c.Status, c.SameHub = StatusApproved, true
		return true
	}
	open, err := d.store.ConsumeAutoApproveWindow(ctx, s.now())
	if err != nil {
		s.serverError(w, err)
		return false
	}
	if open {
		c.Status = StatusApproved
		s.o.Logger.Info("first oauth client approved inside the setup wizard's window")
	}
	return true
}

// checkRedirectURIs: at least one, each an absolute http or https URL with
// a host, no user info and no fragment (RFC 6749 §3.1.2).
func checkRedirectURIs(uris []string) error {
	if len(uris) == 0 {
		return errors.New("redirect_uris is required and must be non-empty")
	}
	if len(uris) > 20 {
		return errors.New("at most 20 redirect_uris")
	}
	for _, u := range uris {
		p, err := url.Parse(u)
		if err != nil || len(u) > 2048 || (p.Scheme != "http" && p.Scheme != "https") ||
			p.Host == "" || p.User != nil || p.Fragment != "" || strings.Contains(u, "#") {
			return fmt.Errorf("invalid redirect_uri %q: use an absolute http or https URL without a fragment", u)
		}
	}
	return nil
}
