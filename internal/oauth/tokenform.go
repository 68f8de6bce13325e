package oauth

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/url"
	"strings"
)

// maxForm caps a form body the OAuth endpoints read (token, register,
// revoke); the largest real one is a few hundred bytes.
const maxForm = 64 << 10

// tokenRequest is a decoded /oauth/token or /oauth/revoke request.
type tokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	Verifier     string
	RefreshToken string
	Resource     string
	Token        string // revoke
	Hint         string // revoke: token_type_hint
	ClientID     string // the body's client_id
	ClientSecret string // from Basic or client_secret_post
	// BasicID is the client id of an Authorization: Basic header; Basic
	// reports whether one was sent.
	BasicID string
	Basic   bool
}

// tokenFields are the parameters decodeTokenRequest knows; each may appear
// at most once (RFC 6749 §3.2).
var tokenFields = []string{"grant_type", "code", "redirect_uri", "code_verifier", "refresh_token",
	"resource", "token", "token_type_hint", "client_id", "client_secret"}

// decodeTokenRequest decodes an untrusted token-endpoint body (already
// size-capped) and Authorization header. It never panics; a bad request
// is an error whose text is the error_description.
func decodeTokenRequest(contentType, authorization string, body []byte) (tokenRequest, error) {
	var tr tokenRequest
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/x-www-form-urlencoded" {
		return tr, fmt.Errorf("the body must be application/x-www-form-urlencoded")
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return tr, fmt.Errorf("the body is not a valid form: %w", err)
	}
	for _, k := range tokenFields {
		if len(v[k]) > 1 {
			return tr, fmt.Errorf("parameter %s given more than once", k)
		}
	}
	tr = tokenRequest{GrantType: v.Get("grant_type"), Code: v.Get("code"), RedirectURI: v.Get("redirect_uri"),
		Verifier: v.Get("code_verifier"), RefreshToken: v.Get("refresh_token"), Resource: v.Get("resource"),
		Token: v.Get("token"), Hint: v.Get("token_type_hint"), ClientID: v.Get("client_id"),
		ClientSecret: v.Get("client_secret")}
	if scheme, cred, ok := strings.Cut(strings.TrimSpace(authorization), " "); ok && strings.EqualFold(scheme, "basic") {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return tr, fmt.Errorf("malformed Basic credentials")
		}
		id, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return tr, fmt.Errorf("malformed Basic credentials")
		}
		// RFC 6749 §2.3.1: both halves are form-encoded.
		if id, err = url.QueryUnescape(id); err != nil {
			return tr, fmt.Errorf("malformed Basic client id")
		}
		if secret, err = url.QueryUnescape(secret); err != nil {
			return tr, fmt.Errorf("malformed Basic client secret")
		}
		if tr.ClientSecret != "" {
			return tr, fmt.Errorf("use one client authentication method, not both Basic and client_secret")
		}
		tr.Basic, tr.BasicID, tr.ClientSecret = true, id, secret
		if tr.ClientID == "" {
			tr.ClientID = id
		}
	}
	return tr, nil
}
