package api

// MeResponse is the answer of GET /api/me: who the request is. Its first
// three members are the reference hub's ({hasSession:false} for nobody;
// {hasSession:true, user, csrf} for a browser session); Via and Scopes are
// this hub's additions so a bearer (an OAuth access token with aud "hub",
// or the operator token) can ask the same question.
type MeResponse struct {
	// HasSession reports a live browser session cookie.
	HasSession bool `json:"hasSession"`
	// User is the signed-in user; absent for nobody.
	User *MeUser `json:"user,omitempty"`
	// CSRF is the double-submit token for the session's forms (session only;
	// the cookie is minted when missing).
	CSRF string `json:"csrf,omitempty"`
	// Via is how the request authenticated: "session" or "bearer".
	Via string `json:"via,omitempty"`
	// Scopes are the bearer's scopes (bearer only).
	Scopes []string `json:"scopes,omitempty"`
	// ClientID is the bearer's client_id (bearer only).
	ClientID string `json:"client_id,omitempty"`
}

// MeUser is the user member of MeResponse.
type MeUser struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}
