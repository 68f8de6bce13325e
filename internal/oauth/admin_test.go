package oauth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/openparachute/parachute/internal/auth"
)

// The operator's client and grant administration on real sqlite, with
// grants and tokens made by the real flow: revoking one user's grant
// revokes that client's tokens for that user only, and the next
// authorization asks for consent again.
func TestClientAndGrantAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	db := e.store.DB()
	_, reg := e.register(map[string]any{"redirect_uris": []string{testCallback}, "client_name": "Claude"}, "")
	id := reg["client_id"].(string)
	pending, err := ListClients(ctx, db, StatusPending)
	if err != nil || len(pending) != 1 || pending[0].ID != id || pending[0].Name == nil || *pending[0].Name != "Claude" {
		t.Fatalf("pending clients %+v %v", pending, err)
	}
	if err := ApproveClient(ctx, db, id); err != nil {
		t.Fatal(err)
	}
	if err := ApproveClient(ctx, db, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("approving an unknown client: %v, want ErrNotFound", err)
	}
	if pending, _ := ListClients(ctx, db, StatusPending); len(pending) != 0 {
		t.Errorf("still pending after approval: %+v", pending)
	}

	cfg := e.config(id, "vault:default:read")
	login := func(uid string) *oauth2.Token {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		b := e.browser(uid)
		_, page := get(t, b, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		q := redirected(t, consent(t, b, e.srv.URL, page, "approve"))
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange for %s: %v", uid, err)
		}
		return tok
	}
	owner, friend := login(e.adminID), login(e.friendID)

	grants, err := ListGrants(ctx, db, "")
	if err != nil || len(grants) != 2 {
		t.Fatalf("grants %+v %v, want two", grants, err)
	}
	if g, _ := ListGrants(ctx, db, "friend"); len(g) != 1 || g[0].UserID != e.friendID || g[0].ClientID != id || g[0].Scopes != "vault:default:read" {
		t.Fatalf("friend's grants %+v", g)
	}

	if err := RevokeGrant(ctx, db, id, "owner", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = e.store.Verify(ctx, owner.AccessToken, auth.VerifyOptions{Issuers: []string{e.srv.URL}, Audiences: []string{"vault.default"}})
	if !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("owner's access token after the grant went: %v, want ErrRevoked", err)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: owner.RefreshToken}).Token(); err == nil {
		t.Error("owner's refresh token still works after the grant went")
	}
	verifyAs(t, e, friend.AccessToken, "vault.default") // untouched
	if g, _ := ListGrants(ctx, db, ""); len(g) != 1 || g[0].UserID != e.friendID {
		t.Errorf("grants left %+v, want only friend's", g)
	}
	if err := RevokeGrant(ctx, db, id, "owner", time.Now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking a revoked grant: %v, want ErrNotFound", err)
	}
	// Consent is asked again: the authorize page is the consent form.
	resp, page := get(t, e.browser(e.adminID), cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode != 200 || !strings.Contains(page, "vault:default:read") {
		t.Errorf("authorization after the grant went: %d, want the consent page", resp.StatusCode)
	}
	// Without a username every user's grant goes.
	if err := RevokeGrant(ctx, db, id, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Verify(ctx, friend.AccessToken, auth.VerifyOptions{Issuers: []string{e.srv.URL}, Audiences: []string{"vault.default"}}); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("friend's token after revoking every grant: %v, want ErrRevoked", err)
	}
}
