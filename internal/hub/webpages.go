package hub

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/ratelimit"
	"github.com/openparachute/parachute/internal/sessions"
	"github.com/openparachute/parachute/internal/setupgate"
	"github.com/openparachute/parachute/internal/users"
	"github.com/openparachute/parachute/internal/web"
)

// webPages holds what the sign-in and account pages need once hub.db is
// open. The handlers live in package web; the hub only routes to them.
type webPages struct {
	handler   http.Handler
	sessions  *sessions.Manager
	accounts  *accounts.Store
	bootstrap *accounts.Bootstrap // nil unless a bootstrap token is active
	// setup is the pages' pre-admin gate; the discovery page reads it too.
	setup *setupgate.Gate
	// users serves /api/users; SetWeb builds it when nil.
	users *users.API
}

// SetWeb installs the pages once hub.db is open; until then their routes
// answer 503. Their session manager also becomes the OAuth server's
// "who is signed in", so /oauth/authorize sees a /login session.
func (s *Server) SetWeb(p *webPages) {
	if p != nil && p.users == nil && p.accounts != nil {
		p.users = s.newUsersAPI(p)
	}
	s.web.Store(p)
	if p != nil && p.sessions != nil {
		s.SetSessions(p.sessions)
	}
}

// handleWeb sends a page route to package web.
func (s *Server) handleWeb(w http.ResponseWriter, r *http.Request) {
	p := s.web.Load()
	if p == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the hub is starting; reload in a moment", http.StatusServiceUnavailable)
		return
	}
	p.handler.ServeHTTP(w, r)
}

// buildWeb builds the pages on db, the hub's one hub.db pool (the caller
// keeps owning it), with tokens minting the account page's vault tokens.
// It seeds the first admin from PARACHUTE_INITIAL_ADMIN_USERNAME/_PASSWORD
// once, or, on a hub with no user and no seed, mints the in-memory
// bootstrap token that /admin/setup claims and logs its banner (reference
// server.md §3c). operatorToken, when not nil, writes operator.token if
// it is missing once the wizard has made the first admin.
func buildWeb(ctx context.Context, db *sql.DB, tokens web.TokenMinter, origins Origins, getenv func(string) string,
	operatorToken func(context.Context) (bool, error), log *slog.Logger) (*webPages, error) {
	store := accounts.NewStore(db)
	keyer, err := ratelimit.KeyerFromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("configuring client addresses for rate limits: %w", err)
	}
	trusted := keyer.Trusted()
	sm := sessions.New(sessions.Options{DB: db,
		Secure: func(r *http.Request) bool { return sessions.DefaultSecure(r, trusted) }})
	// Sign-ins also collect expired rows; this clears what a long
	// shutdown left behind.
	if _, err := sm.GC(ctx); err != nil {
		log.Warn("could not delete expired sessions", "err", err)
	}
	seeded, u, err := store.SeedInitialAdmin(ctx, getenv)
	switch {
	case err != nil:
		log.Error("could not seed the first admin", "err", err)
	case u != nil:
		log.Info("created the first admin from PARACHUTE_INITIAL_ADMIN_USERNAME", "username", u.Username)
	}
	var boot *accounts.Bootstrap
	if n, err := store.Count(ctx); err == nil && n == 0 && !seeded {
		if boot, err = store.NewBootstrap(nil); err != nil {
			return nil, err
		}
		// The token goes to the log only: it is the operator's proof of
		// owning the box, and it dies with this process.
		log.Warn(fmt.Sprintf("[wizard] no admin account yet. Visit %s%s and paste this token: %s "+
			"(or run: parachute auth set-password). It works once and expires when the admin is created or the hub restarts.",
			origins.Issuer(), web.SetupPath, boot.Token()))
	}
	gate := setupgate.New(store.Count, log.With("component", "web"))
	h, err := web.New(web.Options{Accounts: store, Sessions: sm, Keyer: keyer, Logger: log.With("component", "web"),
		Tokens: tokens, Issuer: origins.Issuer, Bootstrap: boot, OperatorToken: operatorToken, Setup: gate})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	h.Register(mux)
	return &webPages{handler: mux, sessions: sm, accounts: store, bootstrap: boot, setup: gate}, nil
}
