package hubclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/openparachute/parachute/internal/api"
)

// RevokeToken revokes jti in the running hub's token registry; breakGlass
// lets it revoke the live operator token.
func (c *Client) RevokeToken(ctx context.Context, jti string, breakGlass bool) (*api.RevokeTokenResponse, error) {
	var out api.RevokeTokenResponse
	if err := c.JSON(ctx, http.MethodPost, "/api/auth/revoke-token", api.RevokeTokenRequest{JTI: jti, BreakGlass: breakGlass}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Tokens returns one page of the token registry; q holds the filters
// (revoked, subject, created_via, cursor).
func (c *Client) Tokens(ctx context.Context, q url.Values) (*api.TokensResponse, error) {
	var out api.TokensResponse
	if err := c.JSON(ctx, http.MethodGet, withQuery("/api/auth/tokens", q), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Clients lists the OAuth clients with status (all when empty).
func (c *Client) Clients(ctx context.Context, status string) (*api.ClientsResponse, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	var out api.ClientsResponse
	if err := c.JSON(ctx, http.MethodGet, withQuery("/api/oauth/clients", q), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ApproveClient approves a pending OAuth client.
func (c *Client) ApproveClient(ctx context.Context, id string) error {
	return c.JSON(ctx, http.MethodPost, "/api/oauth/clients/"+url.PathEscape(id)+"/approve", nil, nil)
}

// Grants lists the consent grants (one user's when username is set).
func (c *Client) Grants(ctx context.Context, username string) (*api.GrantsResponse, error) {
	q := url.Values{}
	if username != "" {
		q.Set("username", username)
	}
	var out api.GrantsResponse
	if err := c.JSON(ctx, http.MethodGet, withQuery("/api/grants", q), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeGrant removes the grants of clientID (one user's when username is
// set) and revokes that client's tokens for them.
func (c *Client) RevokeGrant(ctx context.Context, clientID, username string) error {
	q := url.Values{}
	if username != "" {
		q.Set("username", username)
	}
	return c.JSON(ctx, http.MethodDelete, withQuery("/api/grants/"+url.PathEscape(clientID), q), nil, nil)
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
