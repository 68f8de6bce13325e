package oauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/openparachute/parachute/internal/hubdb"
)

// handleRevoke is POST /oauth/revoke (RFC 7009). After client
// authentication it always answers 200 with an empty body, whether the
// token was found, foreign or already revoked, so it is no oracle for
// which tokens exist. A refresh token and its access token share a jti;
// revoking either ends both.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deps(w)
	if !ok {
		return
	}
	tr, ok := readTokenRequest(w, r)
	if !ok {
		return
	}
	if tr.Token == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	c, ok := authenticateClient(r.Context(), w, d, tr)
	if !ok {
		return
	}
	ctx, now := r.Context(), s.now()
	row, err := d.store.RefreshByHash(ctx, hubdb.HashSecret(tr.Token))
	if errors.Is(err, ErrNotFound) {
		if jti := unverifiedJTI(tr.Token); jti != "" {
			row, err = d.store.TokenByJTI(ctx, jti)
		}
	}
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		s.serverError(w, err)
		return
	case row != nil && row.ClientID == c.ID && row.RevokedAt == nil:
		if err := d.store.RevokeJTI(ctx, row.JTI, now); err != nil {
			s.serverError(w, err)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// unverifiedJTI reads the jti of a JWT without checking its signature:
// it only locates a row, which must also belong to the calling client.
func unverifiedJTI(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(tok) > 16<<10 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return ""
	}
	return c.JTI
}
