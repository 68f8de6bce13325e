package sessions

import (
	"crypto/subtle"
	"net/http"
)

// CSRFField is the form field that must echo the CSRF cookie.
const CSRFField = "__csrf"

// MaxFormBytes caps a form body read by the CSRF middleware; the hub's
// forms are a few hundred bytes.
const MaxFormBytes = 64 << 10

// CSRFToken returns r's CSRF token for embedding in a form, minting it
// and setting its cookie when r has none (or a malformed one).
func (m *Manager) CSRFToken(w http.ResponseWriter, r *http.Request) (string, error) {
	return EnsureCSRF(w, r, m.secure(r))
}

// EnsureCSRF is CSRFToken for a handler without a Manager (the OAuth
// consent page): secure says whether r reached the hub over https, which
// sets the cookie's Secure attribute.
func EnsureCSRF(w http.ResponseWriter, r *http.Request, secure bool) (string, error) {
	if c, err := r.Cookie(CSRFCookie); err == nil && wellFormed(c.Value) {
		return c.Value, nil
	}
	raw, err := newRaw()
	if err != nil {
		return "", err
	}
	http.SetCookie(w, newCookie(CSRFCookie, raw, "/", CSRFTTL, secure))
	// Later calls in the same request (a page with two forms) see it.
	r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: raw})
	return raw, nil
}

// CheckCSRF reports whether r's __csrf form field equals its CSRF cookie.
// Both must be well-formed; the compare is constant-time. It parses the
// form (capped at MaxFormBytes), so handlers read r.PostForm afterwards.
func CheckCSRF(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	c, err := r.Cookie(CSRFCookie)
	if err != nil || !wellFormed(c.Value) {
		return false
	}
	field := r.PostForm.Get(CSRFField)
	if len(field) != len(c.Value) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(field), []byte(c.Value)) == 1
}

// Protect wraps a form handler. GET and HEAD pass through; any other
// method must come from the hub's own pages: the request must not be
// cross-origin (Sec-Fetch-Site, else Origin against Host, via
// http.CrossOriginProtection) and must carry a matching CSRF token (double
// submit). Either failure calls deny, which answers 403.
//
// Why both: the origin check alone passes non-browser clients and old
// browsers that send neither header; the token alone is defeated by a
// sibling subdomain that can plant cookies. The checks run before the
// handler's rate limiter, so a forged cross-site POST does not use up the
// victim's attempts.
func Protect(next, deny http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(deny)
	csrf := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !CheckCSRF(w, r) {
			deny.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
	return cop.Handler(csrf)
}
