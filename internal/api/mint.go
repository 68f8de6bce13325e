package api

import "encoding/json"

// MintTokenRequest is the body of POST /api/auth/mint-token.
type MintTokenRequest struct {
	// Scope is the space-separated scopes the token carries (required).
	Scope string `json:"scope"`
	// Audience is the aud claim; empty means inferred from Scope
	// (vault:<n>:<verb> → vault.<n>, else the first scope's resource, else hub).
	Audience string `json:"audience,omitempty"`
	// ExpiresIn is the lifetime in seconds; 0 means 90 days (1 hour when
	// Ephemeral). At most 365 days.
	ExpiresIn int64 `json:"expires_in,omitempty"`
	// Subject is the sub claim; empty means the bearer's own. Only a host
	// operator bearer may name another subject.
	Subject string `json:"subject,omitempty"`
	// Permissions is an optional JSON object carried as the permissions claim.
	Permissions json.RawMessage `json:"permissions,omitempty"`
	// Ephemeral tokens are not recorded in the token registry (so they
	// cannot be listed or revoked) and default to one hour.
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// MintTokenResponse is the answer of POST /api/auth/mint-token.
type MintTokenResponse struct {
	JTI         string          `json:"jti"`
	Token       string          `json:"token"`
	ExpiresAt   string          `json:"expires_at"` // RFC 3339, UTC, milliseconds
	Scope       string          `json:"scope"`
	Audience    string          `json:"audience"`
	Permissions json.RawMessage `json:"permissions,omitempty"`
}
