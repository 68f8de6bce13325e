package oauth

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
)

// newSecret returns n random bytes, base64url: codes, refresh tokens,
// client ids and secrets. Never with a leading '-': client ids go on
// command lines (`parachute auth approve-client <id>`), where it would read
// as a flag (auth.NewJTI does the same for token ids).
func newSecret(n int) string {
	b := make([]byte, n)
	for {
		rand.Read(b) // never fails: since Go 1.24 it crashes the program instead
		if s := base64.RawURLEncoding.EncodeToString(b); s[0] != '-' {
			return s
		}
	}
}

// finalize issues the authorization code for an approved request and
// sends the browser back to the client: 32 random bytes, valid CodeTTL,
// bound to the client, user, exact redirect_uri, scopes and the PKCE
// challenge.
func (s *Server) finalize(w http.ResponseWriter, r *http.Request, d deps, a *authz, uid string, scopes []string) {
	now := s.now()
	c := Code{Code: newSecret(32), ClientID: a.client.ID, UserID: uid, RedirectURI: a.p.RedirectURI,
		Scopes: scopes, Challenge: a.p.Challenge, ChallengeMeth: a.p.Method, ExpiresAt: now.Add(CodeTTL)}
	if err := d.store.SaveCode(r.Context(), c, now); s.failed(w, r, a, nil, err) {
		return
	}
	// iss per RFC 9207, so a client talking to several servers can tell
	// which one answered (mix-up defence).
	http.Redirect(w, r, withParams(a.p.RedirectURI, url.Values{
		"code": {c.Code}, "state": {a.p.State}, "iss": {s.issuer()}}), http.StatusFound)
}
