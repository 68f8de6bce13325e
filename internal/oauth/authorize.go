package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// authzParams are the parameters of an authorization request. The same
// struct is read from the GET query and from the consent form, so the POST
// re-validates exactly what the page showed.
type authzParams struct {
	ResponseType string
	ClientID     string
	RedirectURI  string
	State        string
	Scope        string
	Challenge    string
	Method       string
	Resource     string
}

func paramsFrom(v url.Values) authzParams {
	return authzParams{
		ResponseType: v.Get("response_type"), ClientID: v.Get("client_id"),
		RedirectURI: v.Get("redirect_uri"), State: v.Get("state"), Scope: v.Get("scope"),
		Challenge: v.Get("code_challenge"), Method: v.Get("code_challenge_method"),
		Resource: v.Get("resource"),
	}
}

// query is p as an /oauth/authorize query (for the login hand-off).
func (p authzParams) query() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("response_type", p.ResponseType)
	set("client_id", p.ClientID)
	set("redirect_uri", p.RedirectURI)
	set("state", p.State)
	set("scope", p.Scope)
	set("code_challenge", p.Challenge)
	set("code_challenge_method", p.Method)
	set("resource", p.Resource)
	return v
}

// authz is a validated authorization request: the client, its checked
// redirect_uri, and the requested scopes (before capping to a user).
type authz struct {
	p      authzParams
	client *Client
	scopes []string
	vault  string // the RFC 8707 resource's vault, or ""
}

// failure is why an authorization request stops. Before the client and
// redirect_uri are known to be good it is a page (never a redirect: that
// would make the hub an open redirector); after, an error redirect.
type failure struct {
	status   int    // page failures
	title    string // page failures
	code     string // redirect failures: the RFC 6749 §4.1.2.1 error
	desc     string
	redirect bool
}

func pageFail(status int, title, desc string) *failure {
	return &failure{status: status, title: title, desc: desc}
}

func redirectFail(code, desc string) *failure {
	return &failure{code: code, desc: desc, redirect: true}
}

// validate checks the request itself, before anyone is signed in.
func (s *Server) validate(ctx context.Context, d deps, p authzParams) (*authz, *failure, error) {
	if p.ClientID == "" || p.RedirectURI == "" {
		return nil, pageFail(http.StatusBadRequest, "Invalid request", "client_id and redirect_uri are required."), nil
	}
	c, err := d.store.Client(ctx, p.ClientID)
	if errors.Is(err, ErrNotFound) {
		return nil, pageFail(http.StatusBadRequest, "Unknown app", "This app is not registered with this hub. Ask it to register again."), nil
	}
	if err != nil {
		return nil, nil, err
	}
	// Exact match only: prefix or pattern matching is how codes leak to
	// an attacker's path on a registered host.
	if !slices.Contains(c.RedirectURIs, p.RedirectURI) {
		return nil, pageFail(http.StatusBadRequest, "Invalid redirect", "The redirect_uri is not registered for this app."), nil
	}
	a := &authz{p: p, client: c}
	switch {
	case p.ResponseType != "code":
		return a, redirectFail("unsupported_response_type", "response_type must be code"), nil
	case p.Challenge == "":
		return a, redirectFail("invalid_request", "code_challenge is required (PKCE S256)"), nil
	case p.Method != "S256":
		// Why: "plain" sends the verifier itself through the browser, so a
		// leaked authorization request is enough to redeem the code.
		return a, redirectFail("invalid_request", "code_challenge_method must be S256"), nil
	case len(p.Challenge) != 43:
		return a, redirectFail("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)"), nil
	}
	scopes := strings.Fields(p.Scope)
	if len(scopes) == 0 {
		scopes = c.Scopes
	}
	if len(scopes) == 0 {
		return a, redirectFail("invalid_scope", "no scope requested"), nil
	}
	host, unknown := checkRequested(scopes, declaredScopes(s.o.Services()))
	if len(host) > 0 {
		return a, redirectFail("invalid_scope", "scopes not requestable: "+strings.Join(host, " ")), nil
	}
	if len(unknown) > 0 {
		return a, redirectFail("invalid_scope", "unknown scopes: "+strings.Join(unknown, " ")), nil
	}
	if p.Resource != "" {
		v, ok := resourceVault(p.Resource, s.o.Origins())
		if !ok {
			return a, redirectFail("invalid_target", "resource is not this hub or one of its vaults"), nil
		}
		a.vault = v
		if v != "" {
			scopes = narrowToVault(scopes, v)
		}
	}
	a.scopes = scopes
	return a, nil, nil
}

// forUser caps the request's scopes to what userID holds.
func (s *Server) forUser(ctx context.Context, d deps, a *authz, userID string) ([]string, *failure, error) {
	scopes, err := capToUser(ctx, d.users, userID, a.scopes)
	if err != nil {
		return nil, nil, err
	}
	if len(scopes) == 0 {
		return nil, redirectFail("invalid_scope", "none of the requested scopes can be granted by this account"), nil
	}
	return scopes, nil, nil
}

// handleAuthorize is GET /oauth/authorize: validate, hand off to login when
// nobody is signed in, then skip consent when allowed or show it.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deps(w)
	if !ok {
		return
	}
	ctx := r.Context()
	a, f, err := s.validate(ctx, d, paramsFrom(r.URL.Query()))
	if s.failed(w, r, a, f, err) {
		return
	}
	uid, signedIn := s.session(r)
	if !signedIn {
		if a.client.Status != StatusApproved {
			s.page(w, http.StatusForbidden, "App not yet approved",
				"This app is waiting for the hub's admin to approve it. Sign in as the admin and open this link again.")
			return
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape("/oauth/authorize?"+a.p.query().Encode()), http.StatusFound)
		return
	}
	scopes, f, err := s.forUser(ctx, d, a, uid)
	if s.failed(w, r, a, f, err) {
		return
	}
	admin, err := isAdmin(ctx, d.users, uid)
	if s.failed(w, r, a, nil, err) {
		return
	}
	if a.client.Status != StatusApproved && !admin {
		s.page(w, http.StatusForbidden, "App not yet approved", "Ask the hub's admin to approve this app, then try again.")
		return
	}
	skip, err := s.skipConsent(ctx, d, a.client, uid, scopes)
	if s.failed(w, r, a, nil, err) {
		return
	}
	if skip {
		s.finalize(w, r, d, a, uid, scopes)
		return
	}
	s.renderConsent(w, r, a, scopes)
}

// skipConsent: an approved client whose grant already covers the scopes,
// or an operator-registered (same_hub) client asking for no admin scope.
// The reference's trust-by-client_name is deliberately not carried over:
// any DCR client can claim a name, so it let an attacker's client inherit
// another app's consent (server.md §4b).
func (s *Server) skipConsent(ctx context.Context, d deps, c *Client, uid string, scopes []string) (bool, error) {
	if c.Status != StatusApproved {
		return false, nil
	}
	if unnamedVault(scopes) && len(vaultNames(s.o.Services())) > 0 {
		return false, nil // the picker must name the vault
	}
	if c.SameHub && !slices.ContainsFunc(scopes, adminScope) {
		return true, nil
	}
	have, ok, err := d.store.Grant(ctx, uid, c.ID)
	if err != nil || !ok {
		return false, err
	}
	return covers(have, scopes), nil
}

// failed writes f or err and reports whether there was one.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, a *authz, f *failure, err error) bool {
	switch {
	case err != nil:
		s.o.Logger.Error("oauth authorize failed", "err", err)
		s.page(w, http.StatusInternalServerError, "Something went wrong", "The hub could not process this request; see its log.")
	case f == nil:
		return false
	case f.redirect && a != nil:
		http.Redirect(w, r, withParams(a.p.RedirectURI, url.Values{
			"error": {f.code}, "error_description": {f.desc}, "state": {a.p.State}, "iss": {s.issuer()}}), http.StatusFound)
	case f.redirect:
		s.page(w, http.StatusBadRequest, "Invalid request", f.desc)
	default:
		s.page(w, f.status, f.title, f.desc)
	}
	return true
}

// withParams appends v to a redirect URI that may already carry a query.
func withParams(base string, v url.Values) string {
	for k, vals := range v {
		if len(vals) == 1 && vals[0] == "" {
			delete(v, k)
		}
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + v.Encode()
}
