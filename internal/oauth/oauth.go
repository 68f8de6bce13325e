// Package oauth is the hub's OAuth 2.1 authorization server (reference
// server.md §3e): the RFC 8414 and RFC 9728 metadata documents, dynamic
// client registration (RFC 7591), the authorization-code flow with PKCE
// S256, refresh-token rotation inside a family with replay detection, and
// RFC 7009 revocation. It issues the access tokens modules verify (RS256
// through auth.Store) into the reference's hub.db tables, so a box switching
// hubs keeps its clients, grants and refresh tokens.
//
// The flow is split by step, each in its own file with the request state
// passed explicitly: authorize.go (validate the request, hand off to login),
// consent.go (the page and its POST), finalize.go (issue the code),
// token.go (code and refresh grants), register.go (DCR), revoke.go. Every
// step reads and writes through Storage.
//
// Why not ory/fosite or zitadel/oidc: both own the storage model (fosite
// signs opaque tokens with HMAC and keeps its own session blobs; zitadel's
// op.Storage is OIDC-shaped) while the contract here is fixed by the
// reference's tables and tokens: SHA-256 refresh hashes in tokens, the
// access token's jti equal to its refresh row's, family revocation, pending
// clients and a services catalog in the token response. Adapting either
// would be more code than the protocol itself, which is small on go-jose
// (through internal/auth) and the standard library.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/ratelimit"
	"github.com/openparachute/parachute/internal/setupgate"
)

// Lifetimes of what the server issues (reference server.md §3e).
const (
	AccessTTL  = 15 * time.Minute
	RefreshTTL = 30 * 24 * time.Hour
	CodeTTL    = 60 * time.Second
)

// Sessions tells who is signed in. The sessions package implements it;
// the flow only needs the user id of a live session.
type Sessions interface {
	Current(r *http.Request) (userID string, ok bool)
}

// Options configures a Server.
type Options struct {
	// Auth returns the hub's credential store, or nil while it is still
	// opening (the endpoints then answer 503).
	Auth func() *auth.Store
	// Sessions finds the browser's session; nil means nobody is signed in.
	Sessions Sessions
	// Issuer is the canonical issuer tokens are minted with.
	Issuer func() string
	// Origins are every origin the hub answers on (for same-origin checks
	// and RFC 8707 resources), the canonical issuer included.
	Origins func() []string
	// Services returns the routable services.json rows (for the services
	// catalog, module-declared scopes and per-mount resource metadata).
	Services func() []manifest.Service
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Keyer derives a request's client key for rate limits; nil keys on
	// the peer address alone (no forwarding header is trusted).
	Keyer *ratelimit.Keyer
	// TokenLimit and RegisterLimit override DefaultTokenLimit and
	// DefaultRegisterLimit; NoRateLimit turns limiting off (benchmarks).
	TokenLimit, RegisterLimit *ratelimit.Config
	NoRateLimit               bool
}

// Server serves the OAuth endpoints. It holds no mutable state of its
// own: everything lives in hub.db, so it is safe for concurrent use.
type Server struct {
	o   Options
	lim limiters
	// setup sends /oauth/authorize to /admin/setup while the hub has no
	// user (package setupgate); it remembers the first user it sees.
	setup *setupgate.Gate
}

// New builds a Server.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Services == nil {
		o.Services = func() []manifest.Service { return nil }
	}
	s := &Server{o: o, lim: newLimiters(o)}
	s.setup = setupgate.New(s.countUsers, o.Logger)
	return s
}

// errNotOpen is countUsers' answer while hub.db is still opening.
var errNotOpen = errors.New("hub.db is not open yet")

// countUsers counts the hub's users, for the setup gate.
func (s *Server) countUsers(ctx context.Context) (int, error) {
	if s.o.Auth == nil {
		return 0, errNotOpen
	}
	a := s.o.Auth()
	if a == nil {
		return 0, errNotOpen
	}
	return accounts.NewStore(a.DB()).Count(ctx)
}

// Register mounts the endpoints on mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("/.well-known/oauth-authorization-server", wellKnownCORS(s.handleASMetadata))
	mux.HandleFunc("/.well-known/oauth-protected-resource", wellKnownCORS(s.handlePRM))
	mux.HandleFunc("/.well-known/oauth-protected-resource/{rest...}", wellKnownCORS(s.handlePRM))
	mux.HandleFunc("/oauth/", oauthCORS(s.route))
}

// route dispatches /oauth/*.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth/authorize":
		// Before the first account exists no one can sign in to consent:
		// the browser goes to the setup page instead of a sign-in form
		// it cannot pass. The reference lets this through; the other
		// /oauth endpoints pass here too (see package setupgate).
		if s.setup.Intercept(w, r) {
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.handleAuthorize(w, r)
		case http.MethodPost:
			s.handleConsentPost(w, r)
		default:
			methodNotAllowed(w, "GET, POST")
		}
	case "/oauth/authorize/approve":
		s.post(w, r, s.handleApprove)
	case "/oauth/token":
		s.post(w, r, s.limited(s.lim.token, s.handleToken))
	case "/oauth/register":
		s.post(w, r, s.limited(s.lim.register, s.handleRegister))
	case "/oauth/revoke":
		s.post(w, r, s.limited(s.lim.token, s.handleRevoke))
	default:
		writeOAuthError(w, http.StatusNotFound, "not_found", "no OAuth endpoint at "+r.URL.Path)
	}
}

func (s *Server) post(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	h(w, r)
}

// deps is what one request works with: the store is resolved per request
// because the hub opens hub.db after its listener is up.
type deps struct {
	auth  *auth.Store
	store Storage
	users *accounts.Store
}

func (s *Server) deps(w http.ResponseWriter) (deps, bool) {
	a := (*auth.Store)(nil)
	if s.o.Auth != nil {
		a = s.o.Auth()
	}
	if a == nil {
		w.Header().Set("Retry-After", "1")
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the hub is still starting; retry in a moment")
		return deps{}, false
	}
	return deps{auth: a, store: SQLStore(a.DB()), users: accounts.NewStore(a.DB())}, true
}

func (s *Server) issuer() string { return s.o.Issuer() }

func (s *Server) now() time.Time { return s.o.Now() }

func (s *Server) session(r *http.Request) (string, bool) {
	if s.o.Sessions == nil {
		return "", false
	}
	return s.o.Sessions.Current(r)
}

// isAdmin reports whether userID is the first admin (the reference has no
// role column: the first-created user is the admin).
func isAdmin(ctx context.Context, users *accounts.Store, userID string) (bool, error) {
	return users.IsAdmin(ctx, userID)
}

// writeJSON writes v with status; token answers must never be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthErr is the RFC 6749 §5.2 error body.
type oauthErr struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, oauthErr{code, desc})
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use "+allow)
}
