package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCanGrant(t *testing.T) {
	hostAuth := []string{ScopeHostAuth}
	hostAdmin := []string{ScopeHostAdmin}
	workAdmin := []string{"vault:work:admin"}
	tests := []struct {
		name   string
		bearer []string
		scope  string
		want   bool
	}{
		{"host:auth mints a vault verb", hostAuth, "vault:default:read", true},
		{"host:auth mints a module scope", hostAuth, "scribe:transcribe", true},
		{"host:auth mints unnamed vault:read", hostAuth, "vault:read", true},
		{"host:auth never mints host:auth", hostAuth, ScopeHostAuth, false},
		{"host:auth never mints host:admin", hostAuth, ScopeHostAdmin, false},
		{"malformed verb", hostAuth, "vault:work:ADMIN", false},
		{"malformed resource", hostAuth, "VAULT:work:admin", false},
		{"empty vault name", hostAuth, "vault::admin", false},
		{"extra segment", hostAuth, "vault:work:read:admin", false},
		{"host:admin mints vault:<n>:admin", hostAdmin, "vault:work:admin", true},
		{"host:admin does not mint vault:<n>:read", hostAdmin, "vault:work:read", false},
		{"host:admin does not mint a module scope", hostAdmin, "scribe:admin", false},
		{"host:admin never mints host:*", hostAdmin, "parachute:host:start", false},
		{"vault admin mints same-vault read", workAdmin, "vault:work:read", true},
		{"vault admin mints same-vault admin", workAdmin, "vault:work:admin", true},
		{"vault admin cannot reach another vault", workAdmin, "vault:other:read", false},
		{"vault admin cannot mint host scopes", workAdmin, ScopeHostAuth, false},
		{"read-only bearer mints nothing", []string{"vault:work:read"}, "vault:work:read", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CanGrant(tc.bearer, tc.scope); got != tc.want {
				t.Errorf("CanGrant(%q, %q) = %v, want %v", tc.bearer, tc.scope, got, tc.want)
			}
		})
	}
}

func TestHasMintingAuthority(t *testing.T) {
	for _, tc := range []struct {
		scopes []string
		want   bool
	}{
		{[]string{ScopeHostAuth}, true},
		{[]string{"hub:admin", ScopeHostAdmin}, true},
		{[]string{"vault:work:admin"}, true},
		{[]string{"vault:admin"}, false},
		{[]string{"vault:work:read", "parachute:host:start"}, false},
		{nil, false},
	} {
		if got := HasMintingAuthority(tc.scopes); got != tc.want {
			t.Errorf("HasMintingAuthority(%q) = %v, want %v", tc.scopes, got, tc.want)
		}
	}
}

func TestInferAudienceAndPins(t *testing.T) {
	for _, tc := range []struct {
		scopes []string
		aud    string
	}{
		{[]string{"vault:default:read"}, "vault.default"},
		{[]string{"scribe:transcribe", "vault:work:write"}, "vault.work"},
		{[]string{"scribe:transcribe"}, "scribe"},
		{[]string{"vault:read"}, "vault"},
		{[]string{":odd"}, "hub"},
	} {
		if got := InferAudience(tc.scopes); got != tc.aud {
			t.Errorf("InferAudience(%q) = %q, want %q", tc.scopes, got, tc.aud)
		}
	}
	if got := VaultPins([]string{ScopeHostAuth}, []string{"vault:work:read"}); len(got) != 0 {
		t.Errorf("host:auth mint pinned to %v, want unpinned", got)
	}
	if diff := cmp.Diff([]string{"work"}, VaultPins([]string{"vault:work:admin"}, []string{"vault:work:read", "vault:work:write"})); diff != "" {
		t.Errorf("vault-admin mint pins (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, VaultPins([]string{ScopeHostAdmin}, []string{"vault:a:admin"})); diff != "" {
		t.Errorf("host-admin mint pins (-want +got):\n%s", diff)
	}
}

func TestMintToken(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := fixedClock(s, time.Now())
	registry := func(jti string) (via, scopes string, perms sql.NullString, ok bool) {
		err := s.db.QueryRowContext(ctx, `SELECT created_via, scopes, permissions FROM tokens WHERE jti = ?`, jti).
			Scan(&via, &scopes, &perms)
		return via, scopes, perms, err == nil
	}

	tok, c, err := s.MintToken(ctx, MintRequest{Issuer: testIssuer + "/", Subject: "svc", Scopes: []string{"vault:default:read"},
		Permissions: json.RawMessage(`{"tags":["a"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(ctx, tok, VerifyOptions{Issuers: []string{testIssuer}, Audiences: []string{"vault.default"}})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := &Claims{Issuer: testIssuer, Subject: "svc", Audience: "vault.default", IssuedAt: now.Unix(),
		ExpiresAt: now.Add(MintDefaultTTL).Unix(), JTI: c.JTI, Scope: "vault:default:read", ClientID: MintClientID,
		VaultScope: []string{}, Extra: map[string]any{"permissions": map[string]any{"tags": []any{"a"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if via, scopes, perms, ok := registry(c.JTI); !ok || via != CreatedViaCLIMint || scopes != "vault:default:read" || perms.String != `{"tags":["a"]}` {
		t.Errorf("registry row = %q %q %v (found %v), want cli_mint", via, scopes, perms, ok)
	}
	if err := s.Revoke(ctx, c.JTI); err != nil {
		t.Errorf("a recorded minted token must be revocable: %v", err)
	}

	_, ec, err := s.MintToken(ctx, MintRequest{Issuer: testIssuer, Subject: "svc", Scopes: []string{"scribe:transcribe"}, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := registry(ec.JTI); ok {
		t.Error("an ephemeral token was recorded in the registry")
	}
	if ec.ExpiresAt != now.Add(MintEphemeralTTL).Unix() || ec.Audience != "scribe" {
		t.Errorf("ephemeral token exp %d aud %q, want %d scribe", ec.ExpiresAt, ec.Audience, now.Add(MintEphemeralTTL).Unix())
	}

	for name, req := range map[string]MintRequest{
		"too long":          {Issuer: testIssuer, Subject: "s", Scopes: []string{"a:b"}, TTL: MintMaxTTL + time.Second},
		"no scope":          {Issuer: testIssuer, Subject: "s"},
		"permissions array": {Issuer: testIssuer, Subject: "s", Scopes: []string{"a:b"}, Permissions: json.RawMessage(`[1]`)},
	} {
		if _, _, err := s.MintToken(ctx, req); err == nil || !strings.HasPrefix(err.Error(), "minting token:") {
			t.Errorf("%s: err = %v, want a minting error", name, err)
		}
	}
}

// FuzzCanGrant: whatever the bearer holds and whatever is asked, host
// authority is never granted, a vault admin never reaches another vault,
// and nothing is granted to a bearer without minting authority.
func FuzzCanGrant(f *testing.F) {
	for _, seed := range [][2]string{
		{ScopeHostAuth, "vault:default:read"}, {ScopeHostAuth, ScopeHostAdmin}, {ScopeHostAdmin, "vault:w:admin"},
		{"vault:w:admin", "vault:w:read"}, {"vault:w:admin", "vault:x:read"}, {"vault:w:admin", "VAULT:w:read"},
		{"vault:read", "vault:read"}, {"", ""}, {"parachute:host:auth vault:a:admin", "parachute:host:vault"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, bearer, scope string) {
		held := strings.Fields(bearer)
		if !CanGrant(held, scope) {
			return
		}
		switch {
		case strings.HasPrefix(scope, hostScopePrefix):
			t.Fatalf("%q granted host scope %q", held, scope)
		case !HasMintingAuthority(held):
			t.Fatalf("%q has no minting authority but granted %q", held, scope)
		}
		if n, ok := VaultScopeName(scope); ok && !slices.Contains(held, ScopeHostAuth) &&
			!slices.Contains(held, "vault:"+n+":admin") && !(slices.Contains(held, ScopeHostAdmin) && scope == "vault:"+n+":admin") {
			t.Fatalf("%q granted %q without authority over vault %q", held, scope, n)
		}
	})
}
