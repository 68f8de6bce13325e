package api

import "encoding/json"

// RevokeTokenRequest is the body of POST /api/auth/revoke-token.
type RevokeTokenRequest struct {
	JTI string `json:"jti"`
	// BreakGlass lets the live operator token (the one in operator.token)
	// be revoked; without it the hub refuses with 409 live_operator_token.
	BreakGlass bool `json:"break_glass,omitempty"`
}

// RevokeTokenResponse is the answer of POST /api/auth/revoke-token.
type RevokeTokenResponse struct {
	JTI       string `json:"jti"`
	RevokedAt string `json:"revoked_at"`
}

// TokenRow is one token registry row as GET /api/auth/tokens lists it:
// never the token itself nor its refresh hash.
type TokenRow struct {
	JTI        string   `json:"jti"`
	UserID     *string  `json:"user_id"`
	Subject    *string  `json:"subject"`
	ClientID   string   `json:"client_id"`
	Scopes     []string `json:"scopes"`
	ExpiresAt  string   `json:"expires_at"`
	RevokedAt  *string  `json:"revoked_at"`
	CreatedAt  string   `json:"created_at"`
	CreatedVia *string  `json:"created_via"`
	// Permissions is the recorded permissions object, or null.
	Permissions json.RawMessage `json:"permissions"`
}

// TokensResponse is the answer of GET /api/auth/tokens; NextCursor is
// null on the last page.
type TokensResponse struct {
	Tokens     []TokenRow `json:"tokens"`
	NextCursor *string    `json:"next_cursor"`
}

// RevocationDocument is /.well-known/parachute-revocation.json: the jtis
// revoked but not yet expired, for modules to refuse.
type RevocationDocument struct {
	GeneratedAt string   `json:"generated_at"`
	JTIs        []string `json:"jtis"`
}

// ClientRow is an OAuth client as the admin API shows it (no secret).
type ClientRow struct {
	ClientID     string   `json:"client_id"`
	ClientName   *string  `json:"client_name"`
	RedirectURIs []string `json:"redirect_uris"`
	Scopes       string   `json:"scopes"`
	RegisteredAt string   `json:"registered_at"`
	Status       string   `json:"status"`
}

// ClientsResponse is the answer of GET /api/oauth/clients.
type ClientsResponse struct {
	Clients []ClientRow `json:"clients"`
}

// GrantRow is one consent grant as GET /api/grants lists it.
type GrantRow struct {
	UserID     string   `json:"user_id"`
	Username   string   `json:"username,omitempty"`
	ClientID   string   `json:"client_id"`
	ClientName *string  `json:"client_name"`
	Scopes     []string `json:"scopes"`
	GrantedAt  string   `json:"granted_at"`
}

// GrantsResponse is the answer of GET /api/grants.
type GrantsResponse struct {
	Grants []GrantRow `json:"grants"`
}

// CodeLiveOperatorToken: revoke-token refused the token in operator.token
// (the one the CLI's module verbs use) without break_glass.
const CodeLiveOperatorToken ErrorCode = "live_operator_token"
