package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestOAuthServer drives the running hub's OAuth server black-box, with
// golang.org/x/oauth2 as the client: the RFC 8414 metadata (including a
// module's declared scope), DCR as the operator (approved) and anonymously
// (pending), the signed-out authorize hand-off to /login, and the token
// endpoint's refusals (pending client, unknown code, plain PKCE). The
// signed-in half of the flow (consent, code, refresh, replay, revoke) is
// TestOAuthFlowEndToEnd.
func TestOAuthServer(t *testing.T) {
	h := newHome(t, module{name: "weather", mode: []string{"serve"}})
	mj := filepath.Join(h.root, "modules", "weather", ".parachute", "module.json")
	var doc map[string]any
	b, err := os.ReadFile(mj)
	if err != nil || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("reading %s: %v", mj, err)
	}
	doc["scopes"] = map[string]any{"defines": []string{"weather:read"}}
	writeJSON(t, mj, doc)
	// With an account: before the first one, /oauth/authorize sends
	// people to /admin/setup (hub TestSetupGateThroughTheRouter).
	h.extraEnv = []string{"PARACHUTE_INITIAL_ADMIN_USERNAME=alice", "PARACHUTE_INITIAL_ADMIN_PASSWORD=correct horse battery"}
	h.start()
	ctx := context.Background()
	iss := h.url("")

	var meta struct {
		Issuer   string   `json:"issuer"`
		Token    string   `json:"token_endpoint"`
		PKCE     []string `json:"code_challenge_methods_supported"`
		Scopes   []string `json:"scopes_supported"`
		Register string   `json:"registration_endpoint"`
	}
	getDoc(t, h.url("/.well-known/oauth-authorization-server"), &meta)
	if meta.Issuer != iss || meta.Token != iss+"/oauth/token" || !slices.Equal(meta.PKCE, []string{"S256"}) ||
		!slices.Contains(meta.Scopes, "weather:read") || slices.ContainsFunc(meta.Scopes, func(s string) bool { return strings.HasPrefix(s, "parachute:host:") }) {
		t.Fatalf("metadata %+v", meta)
	}

	register := func(bearer string) map[string]any {
		req, _ := http.NewRequest("POST", meta.Register, strings.NewReader(`{"redirect_uris":["http://127.0.0.1:9/cb"],"client_name":"e2e"}`))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if resp.StatusCode != 201 || json.NewDecoder(resp.Body).Decode(&out) != nil {
			t.Fatalf("register: %d", resp.StatusCode)
		}
		return out
	}
	approved, pending := register(h.token()), register("")
	if approved["status"] != "approved" || approved["same_hub"] != true || pending["status"] != "pending" {
		t.Fatalf("DCR: operator %v, anonymous %v", approved, pending)
	}

	cfg := func(id string) *oauth2.Config {
		return &oauth2.Config{ClientID: id, RedirectURL: "http://127.0.0.1:9/cb", Scopes: []string{"weather:read"},
			Endpoint: oauth2.Endpoint{AuthURL: iss + "/oauth/authorize", TokenURL: meta.Token, AuthStyle: oauth2.AuthStyleInParams}}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	v := oauth2.GenerateVerifier()
	resp, err := noFollow.Get(cfg(approved["client_id"].(string)).AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if next, _ := url.Parse(loc); resp.StatusCode != 302 || next.Path != "/login" || !strings.HasPrefix(next.Query().Get("next"), "/oauth/authorize?") {
		t.Fatalf("signed-out authorize: %d %q, want the /login hand-off", resp.StatusCode, loc)
	}
	resp, err = noFollow.Get(cfg(approved["client_id"].(string)).AuthCodeURL("s",
		oauth2.SetAuthURLParam("code_challenge", oauth2.S256ChallengeFromVerifier(v)), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if u, _ := url.Parse(resp.Header.Get("Location")); u == nil || u.Query().Get("error") != "invalid_request" {
		t.Errorf("plain PKCE: %d %q, want an invalid_request redirect", resp.StatusCode, resp.Header.Get("Location"))
	}

	_, err = cfg(pending["client_id"].(string)).Exchange(ctx, "any", oauth2.VerifierOption(v))
	wantRetrieveErr(t, err, "invalid_client")
	_, err = cfg(approved["client_id"].(string)).Exchange(ctx, "no-such-code", oauth2.VerifierOption(v))
	wantRetrieveErr(t, err, "invalid_grant")
	_, err = cfg(approved["client_id"].(string)).TokenSource(ctx, &oauth2.Token{RefreshToken: "guess"}).Token()
	wantRetrieveErr(t, err, "invalid_grant")

	form := url.Values{"token": {"whatever"}, "client_id": {approved["client_id"].(string)}}
	resp, err = http.PostForm(iss+"/oauth/revoke", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("revoke of an unknown token: %d, want 200", resp.StatusCode)
	}
}

func getDoc(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(v) != nil {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
}

func wantRetrieveErr(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Errorf("got %v, want OAuth error %s", err, code)
	}
}
