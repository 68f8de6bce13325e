package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/openparachute/parachute/internal/sessions"
)

// handleApprove is POST /oauth/authorize/approve: the admin approves a
// pending client inline and goes back to the authorization request. CSRF
// (403, as the reference), a session (401), a same-origin request (403),
// the admin (403), and a return_to that is a hub-relative
// /oauth/authorize URL (400, so it is never an open redirect).
func (s *Server) handleApprove(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deps(w)
	if !ok {
		return
	}
	if !sessions.CheckCSRF(w, r) { // parses the form, capped
		s.page(w, http.StatusForbidden, "Invalid form submission", "The form expired; go back and try again.")
		return
	}
	uid, signedIn := s.session(r)
	if !signedIn {
		s.page(w, http.StatusUnauthorized, "Sign in first", "Sign in as the hub's admin to approve apps.")
		return
	}
	if !sameOrigin(r, s.o.Origins()) {
		s.page(w, http.StatusForbidden, "Cross-origin request refused", "Approve apps from the hub's own page.")
		return
	}
	ctx := r.Context()
	admin, err := isAdmin(ctx, d.users, uid)
	if err != nil || !admin {
		s.page(w, http.StatusForbidden, "Admin only", "Only the hub's admin can approve apps.")
		return
	}
	ret := r.PostForm.Get("return_to")
	if !safeAuthorizeReturn(ret) {
		s.page(w, http.StatusBadRequest, "Invalid request", "return_to must be this hub's /oauth/authorize URL.")
		return
	}
	if err := d.store.ApproveClient(ctx, r.PostForm.Get("client_id")); err != nil {
		if errors.Is(err, ErrNotFound) {
			s.page(w, http.StatusNotFound, "Unknown app", "No such app is registered.")
			return
		}
		s.o.Logger.Error("approving oauth client", "err", err)
		s.page(w, http.StatusInternalServerError, "Something went wrong", "The hub could not approve the app; see its log.")
		return
	}
	http.Redirect(w, r, ret, http.StatusFound)
}

// safeAuthorizeReturn accepts only /oauth/authorize or /oauth/authorize?...
func safeAuthorizeReturn(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil &&
		u.Path == "/oauth/authorize" && !strings.HasPrefix(v, "//") && !strings.Contains(v, "\\")
}

// sameOrigin reports whether a browser request came from one of the hub's
// own origins: Origin when present, else Referer. Unlike the reference it
// never falls back to Host (every real request has a Host, so that made
// any request without Origin and Referer "same-origin"), and a literal
// "null" Origin fails.
func sameOrigin(r *http.Request, origins []string) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		ref, err := url.Parse(r.Header.Get("Referer"))
		if err != nil || ref.Host == "" {
			return false
		}
		src = ref.Scheme + "://" + ref.Host
	}
	for _, o := range origins {
		if strings.EqualFold(strings.TrimRight(o, "/"), src) {
			return true
		}
	}
	return false
}
