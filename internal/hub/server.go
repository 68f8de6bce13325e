// Package hub is the HTTP side of `parachute serve`: health and readiness,
// discovery, the module-operations API guarded by the operator token, and
// the reverse proxy to modules. It is a router: its handlers decode a
// request, call the module-operations layer (internal/modops) and map its
// errors to the API's (handle.go); it never prints to a terminal.
package hub

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/modconfig"
	"github.com/openparachute/parachute/internal/modops"
	"github.com/openparachute/parachute/internal/oauth"
	"github.com/openparachute/parachute/internal/ratelimit"
	"github.com/openparachute/parachute/internal/supervisor"
	"github.com/openparachute/parachute/internal/web"
)

// Options configures a Server.
type Options struct {
	Paths      config.Paths
	Supervisor *supervisor.Supervisor
	Auth       *auth.Store
	Origins    Origins
	Version    string
	Logger     *slog.Logger
	// Source says how this binary was installed (standalone, deb, brew, nix, container).
	Source string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limits are the HTTP deadlines; zero fields take DefaultLimits.
	Limits Limits
	// TrustedProxies decides whose X-Forwarded-* headers the proxy passes
	// on to modules (PARACHUTE_TRUSTED_PROXIES); nil trusts nobody. The
	// OAuth endpoints' rate limits key clients through it too.
	TrustedProxies *ratelimit.Keyer
	// Sessions finds a browser's signed-in user for the OAuth
	// authorization flow; nil means nobody is signed in (authorize then
	// always hands off to /login) until SetSessions installs one.
	Sessions oauth.Sessions

	// upgradeHost replaces the host the self-upgrade talks to (tests).
	upgradeHost *modops.UpgradeHost
	// hubOrigin is the in-memory hub_settings.hub_origin that
	// Origins.Setting reads (Run shares one with its own Origins); nil
	// makes New create one.
	hubOrigin *originSetting
}

// Server serves the hub's HTTP API. Create it with New.
type Server struct {
	paths config.Paths
	sup   *supervisor.Supervisor
	// auth is set once the signing keys are loaded; until then bearer
	// routes answer 503 (the listener is up before hub.db is opened so
	// /health answers as early as possible).
	auth    atomic.Pointer[auth.Store]
	origins Origins
	version string
	source  string
	log     *slog.Logger
	now     func() time.Time
	started time.Time
	// ops owns every module operation (start, stop, install, boot, the
	// hub's self-upgrade); handlers decode, call it and map its errors.
	ops *modops.Manager
	// modcfg keeps modules' config.json and compiled configSchemas (modconfig.go).
	modcfg *modconfig.Store
	mux    *http.ServeMux
	limits Limits
	// hangs rate-limits the log of modules' header timeouts (proxy.go).
	hangs hangLog
	// hubOrigin is hub_settings.hub_origin in memory (huborigin.go).
	hubOrigin *originSetting
	// trust says whether a peer is a trusted proxy (forward.go).
	trust *ratelimit.Keyer
	// table caches the routable services.json rows (routes.go).
	table *routeTable
	// web is set once hub.db is open (see SetWeb); its routes answer 503
	// until then.
	web atomic.Pointer[webPages]
	// oauth serves /oauth/* and the OAuth metadata documents.
	oauth *oauth.Server
	// sessions is read by oauth on every authorization request; like
	// auth it may be installed after the listener is up.
	sessions atomic.Pointer[sessionsBox]
}

// sessionsBox lets an interface value live in an atomic.Pointer.
type sessionsBox struct{ oauth.Sessions }

// hubSessions is the oauth.Sessions the OAuth server holds: whatever
// SetSessions installed last, or nobody signed in.
type hubSessions struct{ s *Server }

func (h hubSessions) Current(r *http.Request) (string, bool) {
	if b := h.s.sessions.Load(); b != nil && b.Sessions != nil {
		return b.Current(r)
	}
	return "", false
}

// SetSessions installs the browser-session lookup once hub.db is open.
func (s *Server) SetSessions(ss oauth.Sessions) { s.sessions.Store(&sessionsBox{ss}) }

// New builds a Server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// Before anything copies o.Origins: the admin's hub_origin setting
	// outranks the environment for every issuer lookup (origin.Resolve).
	if o.hubOrigin == nil {
		o.hubOrigin = &originSetting{}
	}
	if o.Origins.Setting == nil {
		o.Origins.Setting = o.hubOrigin.get
	}
	s := &Server{hubOrigin: o.hubOrigin,
		paths: o.Paths, sup: o.Supervisor, origins: o.Origins,
		version: o.Version, source: o.Source, log: o.Logger, now: o.Now,
		started: o.Now(), limits: o.Limits.withDefaults(),
		ops: modops.New(modops.Options{Paths: o.Paths, Supervisor: o.Supervisor, IssuerFunc: o.Origins.Issuer,
			Version: o.Version, Logger: o.Logger, Now: o.Now, UpgradeHost: o.upgradeHost}),
		modcfg: modconfig.New(o.Paths),
	}
	if o.Auth != nil {
		s.auth.Store(o.Auth)
	}
	s.trust = o.TrustedProxies
	if s.trust == nil {
		s.trust, _ = ratelimit.NewKeyer(nil, "") // cannot fail with no header named
	}
	s.table = newRouteTable(o.Paths.ServicesJSON(), s.ops.Routable, o.Logger)
	if o.Sessions != nil {
		s.SetSessions(o.Sessions)
	}
	s.oauth = oauth.New(oauth.Options{
		Keyer:    s.trust,
		Auth:     s.auth.Load,
		Sessions: hubSessions{s},
		Issuer:   s.origins.Issuer,
		Origins:  s.origins.Accepted,
		Services: func() []manifest.Service { return s.table.get().Services },
		Now:      o.Now,
		Logger:   o.Logger.With("component", "oauth"),
	})
	s.routes()
	return s
}

// SetAuth installs the token store once it is open.
func (s *Server) SetAuth(a *auth.Store) { s.auth.Store(a) }

// Boot starts every registered module (see modops.Manager.Boot).
func (s *Server) Boot(ctx context.Context) { s.ops.Boot(ctx) }

// ShutdownOps refuses new module operations (they answer 503
// shutting_down), cancels the running ones and waits for them or for ctx.
// Run calls it before stopping the supervisor, so no install is left
// half-way by a module being killed under it.
func (s *Server) ShutdownOps(ctx context.Context) error { return s.ops.Shutdown(ctx) }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("/health", s.handleHealth)
	m.HandleFunc("/api/ready", s.handleReady)
	m.HandleFunc("/.well-known/parachute.json", s.handleDiscovery)
	m.HandleFunc("/.well-known/jwks.json", s.handleJWKS)
	m.HandleFunc("/.well-known/parachute-revocation.json", s.handleRevocationList)
	s.oauth.Register(m) // /oauth/*, /.well-known/oauth-*
	m.HandleFunc("/api/hub", s.method("GET", s.admin(s.handleHub)))
	m.HandleFunc("/api/hub/upgrade", s.method("POST", s.admin(s.handleHubUpgrade)))
	m.HandleFunc("/api/hub/upgrade/status", s.method("GET", s.admin(s.handleHubUpgradeStatus)))
	m.HandleFunc("/api/modules", s.method("GET", s.authed("parachute:host:auth", s.handleModules)))
	m.HandleFunc("/api/settings/hub-origin", s.handleHubOrigin)
	m.HandleFunc("/api/me", s.method("GET", s.handle(s.handleMe)))
	m.HandleFunc("/api/auth/mint-token", s.method("POST", s.authed("", s.handleMintToken)))
	m.HandleFunc("/api/auth/revoke-token", s.method("POST", s.authed("", s.handleRevokeToken)))
	m.HandleFunc("/api/auth/tokens", s.method("GET", s.authed("parachute:host:auth", s.handleListTokens)))
	m.HandleFunc("/api/oauth/clients", s.method("GET", s.admin(s.handleListClients)))
	m.HandleFunc("/api/oauth/clients/{id}/approve", s.method("POST", s.admin(s.handleApproveClient)))
	m.HandleFunc("/api/grants", s.method("GET", s.admin(s.handleListGrants)))
	m.HandleFunc("/api/grants/{client_id}", s.method("DELETE", s.admin(s.handleRevokeGrant)))
	m.HandleFunc("/api/users", s.handleUsers)
	m.HandleFunc("/api/users/{rest...}", s.dispatchUsers)
	m.HandleFunc("/api/modules/channel", s.handleModulesChannel)
	m.HandleFunc("/api/modules/{short}/config", s.handleModuleConfig)
	m.HandleFunc("/api/modules/{short}/config/schema", s.handleModuleConfigSchema)
	m.HandleFunc("/api/modules/{rest...}", s.dispatchModule)
	m.HandleFunc("/vaults", s.method("POST", s.admin(s.handleCreateVault)))
	m.HandleFunc("/admin/vault-admin-token/{name}", s.method("GET", s.adminSessionOrBearer(s.vaultsAPI().AdminToken)))
	m.HandleFunc("/api/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "no API route %s %s", r.Method, r.URL.Path)
	}))
	m.HandleFunc("/hub.html", s.handleHubPage)
	for _, p := range redirectPatterns {
		m.HandleFunc(p, s.handleLegacyRedirect)
	}
	// The sign-in and account pages (package web); reserved in package
	// mounts so no module can claim them.
	for _, p := range web.Paths {
		m.HandleFunc(p, s.handleWeb)
	}
	m.HandleFunc("/", s.handleProxy)
	s.mux = m
}

// method answers 405 (before any auth check) unless the request uses want.
// HEAD is accepted wherever GET is.
func (s *Server) method(want string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", want)
			writeErr(w, api.Errorf(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "use %s", want))
			return
		}
		h(w, r)
	}
}

// getPut serves GET (and HEAD) with get and PUT with put; any other
// method is answered 405 before either handler looks at the token, as
// with method.
func (s *Server) getPut(get, put http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			get(w, r)
		case http.MethodPut:
			put(w, r)
		default:
			w.Header().Set("Allow", "GET, PUT")
			writeErr(w, api.Errorf(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, "use GET or PUT"))
		}
	}
}

// dispatchModule routes /api/modules/operations/<id> and
// /api/modules/<short>/<action>. It is hand-written because the two shapes
// overlap as ServeMux patterns.
func (s *Server) dispatchModule(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.PathValue("rest"), "/")
	notFound := func() {
		writeErr(w, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no API route %s %s", r.Method, r.URL.Path))
	}
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		notFound()
		return
	}
	if parts[0] == "operations" {
		r.SetPathValue("id", parts[1])
		s.method("GET", s.admin(s.handleOperation))(w, r)
		return
	}
	if !validShort(parts[0]) {
		writeErr(w, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no module named %q", parts[0]))
		return
	}
	r.SetPathValue("short", parts[0])
	switch parts[1] {
	case "start":
		s.method("POST", s.admin(s.handleStart))(w, r)
	case "stop":
		s.method("POST", s.admin(s.handleStop))(w, r)
	case "restart":
		s.method("POST", s.admin(s.handleRestart))(w, r)
	case "logs":
		s.method("GET", s.admin(s.handleLogs))(w, r)
	case "install", "upgrade", "uninstall":
		s.method("POST", s.admin(map[string]apiHandler{"install": s.handleInstall, "upgrade": s.handleUpgrade, "uninstall": s.handleUninstall}[parts[1]]))(w, r)
	default:
		notFound()
	}
}

// validShort accepts module short names: letters, digits and, after the
// first character, '-', '_' and '.'; never a path element like "..".
func validShort(s string) bool {
	if s == "" || len(s) > 64 || strings.Contains(s, "..") {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ServeHTTP applies the pre-routing guards, then dispatches. Every
// mutating API request, refused or not, leaves one audit line.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	serve := func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkAPIRequest(r); err != nil {
			writeErr(w, err)
			return
		}
		s.mux.ServeHTTP(w, r)
	}
	if mutating(r) {
		s.audit(w, r, serve)
		return
	}
	serve(w, r)
}

// checkAPIRequest rejects requests to the operations API that did not come
// from a local client: a Host that is not ours (DNS rebinding) or a browser
// request from another origin (CSRF from any web page the operator visits).
// The API sends no CORS headers, so a cross-origin page also cannot read
// answers; these checks stop the side effects of simple requests too.
func (s *Server) checkAPIRequest(r *http.Request) *api.Error {
	if !s.origins.hostAllowed(r.Host) {
		return api.Errorf(http.StatusForbidden, api.CodeHostNotAllowed,
			"Host %q is not this hub; use http://127.0.0.1:%d (or add it to PARACHUTE_ALLOWED_HOSTS)", r.Host, s.origins.Port)
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" || r.Header.Get("Sec-Fetch-Mode") == "no-cors" {
		return api.Errorf(http.StatusForbidden, api.CodeCrossOrigin, "cross-site browser requests are not allowed on the hub API")
	}
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return api.Errorf(http.StatusForbidden, api.CodeCrossOrigin, "websocket upgrades are not allowed on the hub API")
	}
	if o := r.Header.Get("Origin"); o != "" && !s.origins.originAllowed(o) {
		return api.Errorf(http.StatusForbidden, api.CodeCrossOrigin, "requests from origin %q are not allowed on the hub API", o)
	}
	return nil
}
