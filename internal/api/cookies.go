package api

// Names of the hub's own browser cookies (reference server.md §3b). They
// live here, with the other wire names, so the accounts pages that set them
// and the proxy that keeps them from modules use the same spelling.
const (
	// CookieSession is the admin session cookie (HttpOnly, SameSite=Lax, Path=/).
	CookieSession = "parachute_hub_session"
	// CookieCSRF is the double-submit CSRF cookie.
	CookieCSRF = "parachute_hub_csrf"
	// CookiePendingLogin links the two steps of a 2FA login (Path=/login).
	CookiePendingLogin = "parachute_hub_pending_login"
)

// HubCookies lists every cookie only the hub may read. The reverse proxy
// removes them from requests it forwards to modules.
func HubCookies() []string {
	return []string{CookieSession, CookieCSRF, CookiePendingLogin}
}
