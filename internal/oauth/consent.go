package oauth

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/openparachute/parachute/internal/sessions"
)

// CSRF is package sessions' double-submit (reference server.md §4a): the
// same cookie and __csrf field as the sign-in and account pages, so one
// token serves a browser's every hub form, and the same well-formedness
// and constant-time rules.

// isHTTPS reports whether the browser reached us over https, for the
// Secure flag: sessions.DefaultSecure with the hub's trusted proxies, the
// rule of every other hub form, since they all share one CSRF cookie.
func (s *Server) isHTTPS(r *http.Request) bool {
	return sessions.DefaultSecure(r, s.lim.keyer.Trusted())
}

// pageHeaders are the security headers of every HTML page here. Why:
// the consent page must not be framed (clickjacking a one-click approval),
// nor leak its query (state, challenge) through Referer.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer a browser posts
	// the consent form with "Origin: null", which the same-origin check
	// on /oauth/authorize/approve must refuse. Cross-origin navigations
	// still get no referrer.
	h.Set("Referrer-Policy", "same-origin")
}

// pages is parsed on first use: a package-level template costs every CLI
// verb its parse at start-up (cmd/parachute's TestInitCost).
var pages = sync.OnceValue(func() *template.Template { return template.Must(template.New("").Parse(pagesText)) })

const pagesText = `
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="same-origin">
<title>{{.}} · Parachute</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0}code{word-break:break-all}</style></head><body>{{end}}
{{define "page"}}{{template "head" .Title}}<h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>{{end}}
{{define "consent"}}{{template "head" "Allow access"}}
<h1>Allow {{.ClientName}}?</h1>
{{if .Pending}}<p><strong>This app is new.</strong> Allowing it also approves its registration on this hub.</p>{{end}}
<p>{{.ClientName}} wants to:</p><ul>{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>
<p>It will be sent back to <code>{{.Redirect}}</code>.</p>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="__action" value="consent"><input type="hidden" name="__csrf" value="{{.CSRF}}">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
{{if .Vaults}}<p><label>Which vault? <select name="vault_pick">{{range .Vaults}}<option value="{{.}}">{{.}}</option>{{end}}</select></label></p>{{end}}
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>{{end}}`

// page renders a plain message page.
func (s *Server) page(w http.ResponseWriter, status int, title, msg string) {
	pageHeaders(w)
	w.WriteHeader(status)
	_ = pages().ExecuteTemplate(w, "page", struct{ Title, Message string }{title, msg})
}

// renderConsent shows the consent page for a validated request.
func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, a *authz, scopes []string) {
	csrf, err := sessions.EnsureCSRF(w, r, s.isHTTPS(r))
	if err != nil {
		s.o.Logger.Error("minting a CSRF token for the consent page", "err", err)
		s.page(w, http.StatusInternalServerError, "Something went wrong", "Reload the page to try again.")
		return
	}
	name := a.client.Name
	if name == "" {
		name = "An unnamed app (" + a.client.ID + ")"
	}
	pageHeaders(w)
	_ = pages().ExecuteTemplate(w, "consent", map[string]any{
		"ClientName": name, "Scopes": scopes, "Redirect": a.p.RedirectURI, "CSRF": csrf,
		"Params": a.p.query(), "Pending": a.client.Status != StatusApproved,
		"Vaults": s.pickable(scopes),
	})
}

// pickable lists the vaults the picker offers: every mounted vault when
// the scopes hold an unnamed vault:<verb>, else none (no picker).
func (s *Server) pickable(scopes []string) []string {
	if !unnamedVault(scopes) {
		return nil
	}
	return vaultNames(s.o.Services())
}

// handleConsentPost is POST /oauth/authorize with __action=consent: CSRF
// first (before anything else reads the form's claims), then the session,
// then the request is validated again from the form and the decision
// applied.
func (s *Server) handleConsentPost(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deps(w)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, sessions.MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.page(w, http.StatusBadRequest, "Invalid form submission", "The form could not be read.")
		return
	}
	if r.PostForm.Get("__action") != "consent" {
		s.page(w, http.StatusBadRequest, "Invalid form submission", "Unknown form action.")
		return
	}
	if !sessions.CheckCSRF(w, r) {
		s.page(w, http.StatusBadRequest, "Invalid form submission", "The form expired; go back and try again.")
		return
	}
	ctx := r.Context()
	a, f, err := s.validate(ctx, d, paramsFrom(r.PostForm))
	if s.failed(w, r, a, f, err) {
		return
	}
	uid, signedIn := s.session(r)
	if !signedIn {
		http.Redirect(w, r, "/login?next="+url.QueryEscape("/oauth/authorize?"+a.p.query().Encode()), http.StatusFound)
		return
	}
	if r.PostForm.Get("decision") != "approve" {
		s.failed(w, r, a, redirectFail("access_denied", "the user denied access"), nil)
		return
	}
	scopes, f, err := s.forUser(ctx, d, a, uid)
	if s.failed(w, r, a, f, err) {
		return
	}
	if vaults := s.pickable(scopes); len(vaults) > 0 {
		pick := r.PostForm.Get("vault_pick")
		if !slices.Contains(vaults, pick) {
			s.page(w, http.StatusBadRequest, "Pick a vault", "This app asked for vault access: pick one of this hub's vaults.")
			return
		}
		scopes = pickVault(scopes, pick)
	}
	if a.client.Status != StatusApproved {
		admin, err := isAdmin(ctx, d.users, uid)
		if s.failed(w, r, a, nil, err) {
			return
		}
		if !admin {
			s.page(w, http.StatusForbidden, "App not yet approved", "Ask the hub's admin to approve this app, then try again.")
			return
		}
		if err := d.store.ApproveClient(ctx, a.client.ID); s.failed(w, r, a, nil, err) {
			return
		}
		s.o.Logger.Info("oauth client approved on consent", "client_id", a.client.ID, "user_id", uid)
	}
	if err := d.store.SaveGrant(ctx, uid, a.client.ID, scopes, s.now()); s.failed(w, r, a, nil, err) {
		return
	}
	s.finalize(w, r, d, a, uid, scopes)
}
