package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/manifest"
)

// tokenResponse is the /oauth/token success body.
type tokenResponse struct {
	AccessToken  string                  `json:"access_token"`
	TokenType    string                  `json:"token_type"`
	ExpiresIn    int                     `json:"expires_in"`
	RefreshToken string                  `json:"refresh_token"`
	Scope        string                  `json:"scope"`
	Services     map[string]catalogEntry `json:"services"`
}

type catalogEntry struct {
	URL     string `json:"url"`
	Version string `json:"version"`
}

// readTokenRequest reads and decodes a token or revoke request.
func readTokenRequest(w http.ResponseWriter, r *http.Request) (tokenRequest, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForm))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body is too large or unreadable")
		return tokenRequest{}, false
	}
	tr, err := decodeTokenRequest(r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body)
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return tokenRequest{}, false
	}
	return tr, true
}

// clientFail is RFC 6749 §5.2's 401 invalid_client with a Basic challenge.
func clientFail(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="hub"`)
	writeOAuthError(w, http.StatusUnauthorized, "invalid_client", desc)
}

// authenticateClient finds the client and checks its credentials: public
// clients (no secret) pass on their id, PKCE binding their codes;
// confidential ones must present their secret (Basic or
// client_secret_post), compared as SHA-256 in constant time.
func authenticateClient(ctx context.Context, w http.ResponseWriter, d deps, tr tokenRequest) (*Client, bool) {
	if tr.ClientID == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "client_id is required")
		return nil, false
	}
	if tr.Basic && tr.BasicID != tr.ClientID {
		clientFail(w, "the Authorization header's client_id does not match the body's")
		return nil, false
	}
	c, err := d.store.Client(ctx, tr.ClientID)
	if errors.Is(err, ErrNotFound) {
		clientFail(w, "unknown client_id")
		return nil, false
	}
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "reading the client failed")
		return nil, false
	}
	if c.SecretHash != "" {
		if tr.ClientSecret == "" {
			clientFail(w, "client_secret required for a confidential client")
			return nil, false
		}
		if !auth.SecretEqual(hubdb.HashSecret(tr.ClientSecret), c.SecretHash) {
			clientFail(w, "client_secret mismatch")
			return nil, false
		}
	}
	return c, true
}

// handleToken is POST /oauth/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deps(w)
	if !ok {
		return
	}
	tr, ok := readTokenRequest(w, r)
	if !ok {
		return
	}
	switch tr.GrantType {
	case "authorization_code", "refresh_token":
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	c, ok := authenticateClient(r.Context(), w, d, tr)
	if !ok {
		return
	}
	if c.Status != StatusApproved {
		clientFail(w, "this app is waiting for the hub's admin to approve it")
		return
	}
	if tr.GrantType == "authorization_code" {
		s.codeGrant(w, r, d, c, tr)
		return
	}
	s.refreshGrant(w, r, d, c, tr)
}

// codeGrant redeems an authorization code. The code is marked used before
// any other check, so a wrong verifier or redirect_uri also burns it:
// a code gets exactly one try.
func (s *Server) codeGrant(w http.ResponseWriter, r *http.Request, d deps, c *Client, tr tokenRequest) {
	if tr.Code == "" || tr.RedirectURI == "" || tr.Verifier == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "code, redirect_uri and code_verifier are required")
		return
	}
	ctx, now := r.Context(), s.now()
	code, err := d.store.RedeemCode(ctx, tr.Code, now)
	switch {
	case errors.Is(err, ErrNotFound):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code not found")
		return
	case errors.Is(err, ErrCodeUsed):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code already redeemed")
		return
	case err != nil:
		s.serverError(w, err)
		return
	}
	switch {
	case code.ClientID != c.ID:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code was issued to another client")
	case !now.Before(code.ExpiresAt):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code expired")
	case code.RedirectURI != tr.RedirectURI:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri mismatch")
	case !pkceOK(tr.Verifier, code.Challenge):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier mismatch")
	default:
		s.issue(w, r, d, issueReq{userID: code.UserID, clientID: c.ID, scopes: code.Scopes,
			family: "", resource: tr.Resource})
	}
}

// pkceOK checks an RFC 7636 S256 verifier against the stored challenge.
func pkceOK(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return auth.SecretEqual(base64.RawURLEncoding.EncodeToString(sum[:]), challenge)
}

// refreshGrant rotates a refresh token inside its family. Presenting a
// token that was already rotated or revoked is treated as theft (RFC 9700
// §4.14.2): the whole family is revoked, so whoever holds the newer token
// must sign in again.
func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, d deps, c *Client, tr tokenRequest) {
	if tr.RefreshToken == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	ctx, now := r.Context(), s.now()
	row, err := d.store.RefreshByHash(ctx, hubdb.HashSecret(tr.RefreshToken))
	switch {
	case errors.Is(err, ErrNotFound):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "refresh_token not found")
		return
	case err != nil:
		s.serverError(w, err)
		return
	}
	switch {
	case row.ClientID != c.ID:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "refresh_token was issued to another client")
		return
	case row.UserID == "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "refresh_token has no user")
		return
	case row.RevokedAt != nil:
		if err := d.store.RevokeFamily(ctx, row.FamilyID, now); err != nil {
			s.serverError(w, err)
			return
		}
		s.o.Logger.Warn("refresh token replayed; family revoked", "client_id", c.ID, "family_id", row.FamilyID)
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "refresh_token revoked")
		return
	case !now.Before(row.ExpiresAt):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "refresh_token expired")
		return
	}
	s.issue(w, r, d, issueReq{userID: row.UserID, clientID: c.ID, scopes: row.Scopes,
		family: row.FamilyID, rotate: row.JTI, resource: tr.Resource})
}

// issueReq is what issue mints: a new grant (family "") or a rotation of
// the live refresh row rotate inside family.
type issueReq struct {
	userID, clientID string
	scopes           []string
	family, rotate   string
	resource         string
}

// issue mints the access token (RS256, AccessTTL, iss = the canonical
// issuer) and its refresh token (opaque, RefreshTTL, stored as SHA-256
// under the access token's jti, so revoking either revokes both).
func (s *Server) issue(w http.ResponseWriter, r *http.Request, d deps, q issueReq) {
	ctx, now := r.Context(), s.now()
	aud := auth.InferAudience(q.scopes)
	if q.resource != "" {
		v, ok := resourceVault(q.resource, s.o.Origins())
		if !ok || (v != "" && !slices.ContainsFunc(q.scopes, func(sc string) bool { n, ok := auth.VaultScopeName(sc); return ok && n == v })) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_target", "resource does not match the granted scopes")
			return
		}
		if v != "" {
			aud = "vault." + v
		}
	}
	vs, err := s.vaultScope(ctx, d, q.userID)
	if err != nil {
		s.serverError(w, err)
		return
	}
	jti := auth.NewJTI()
	claims := auth.Claims{Issuer: s.issuer(), Subject: q.userID, Audience: aud, IssuedAt: now.Unix(),
		ExpiresAt: now.Add(AccessTTL).Unix(), JTI: jti, Scope: strings.Join(q.scopes, " "),
		ClientID: q.clientID, VaultScope: vs}
	access, err := d.auth.Mint(ctx, claims)
	if err != nil {
		s.serverError(w, err)
		return
	}
	refresh := newSecret(32)
	row := RefreshRow{JTI: jti, UserID: q.userID, ClientID: q.clientID, Scopes: q.scopes,
		Hash: hubdb.HashSecret(refresh), FamilyID: q.family, ExpiresAt: now.Add(RefreshTTL)}
	if q.rotate == "" {
		row.FamilyID = jti
		err = d.store.InsertRefresh(ctx, row, now)
	} else {
		err = d.store.Rotate(ctx, q.rotate, row, now)
	}
	if errors.Is(err, ErrRotated) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "refresh_token rotation conflict")
		return
	}
	if err != nil {
		s.serverError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: access, TokenType: "Bearer",
		ExpiresIn: int(AccessTTL.Seconds()), RefreshToken: refresh, Scope: claims.Scope,
		Services: catalog(s.o.Services(), s.issuer(), q.scopes)})
}

// vaultScope is the vault_scope claim: empty (unrestricted) for the first
// admin, the assigned vaults for anyone else; read at every mint so a
// changed assignment shows up on the next refresh.
func (s *Server) vaultScope(ctx context.Context, d deps, uid string) ([]string, error) {
	admin, err := d.users.IsAdmin(ctx, uid)
	if err != nil || admin {
		return []string{}, err
	}
	u, err := d.users.ByID(ctx, uid)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, v := range u.Vaults {
		out = append(out, v.Name)
	}
	return out, nil
}

// catalog is the services map of the token response: each service the
// token has a scope for, by short name, with vaults also under
// "vault:<name>" (reference oauth-handlers buildServicesCatalog).
func catalog(rows []manifest.Service, issuer string, scopes []string) map[string]catalogEntry {
	prefixes, named, broadVault := map[string]bool{}, map[string]bool{}, false
	for _, sc := range scopes {
		if n, ok := auth.VaultScopeName(sc); ok {
			named[n], prefixes["vault"] = true, true
			continue
		}
		p, rest, _ := strings.Cut(sc, ":")
		prefixes[p] = true
		if p == "vault" && slices.Contains(vaultVerbs, rest) {
			broadVault = true
		}
	}
	out := map[string]catalogEntry{}
	for _, row := range rows {
		if len(row.Paths) == 0 {
			continue
		}
		if manifest.IsVaultName(row.Name) {
			for _, p := range row.Paths {
				n := strings.TrimPrefix(strings.TrimRight(p, "/"), "/vault/")
				if !broadVault && !named[n] {
					continue
				}
				e := catalogEntry{URL: issuer + p, Version: row.Version}
				out["vault:"+n] = e
				if _, ok := out["vault"]; !ok {
					out["vault"] = e
				}
			}
			continue
		}
		short := strings.TrimPrefix(row.Name, "parachute-")
		if prefixes[short] {
			out[short] = catalogEntry{URL: issuer + row.Paths[0], Version: row.Version}
		}
	}
	return out
}

func (s *Server) serverError(w http.ResponseWriter, err error) {
	s.o.Logger.Error("oauth token endpoint failed", "err", err)
	writeOAuthError(w, http.StatusInternalServerError, "server_error", "the hub could not complete the request; see its log")
}
