package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/auth"
)

// `parachute auth rotate-key` through Main: a new active key, and the old
// one still published and still verifying the tokens it signed.
func TestAuthRotateKey(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	t.Setenv("PARACHUTE_HOME", root)
	store, err := auth.Open(filepath.Join(root, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	old, err := store.EnsureSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const iss = "http://127.0.0.1:1939"
	tok, err := store.Mint(ctx, auth.Claims{Issuer: iss, Subject: "s", JTI: "j", ExpiresAt: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if code := Main(ctx, []string{"auth", "rotate-key"}, &out, &errOut); code != ExitOK {
		t.Fatalf("rotate-key = %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	cur, err := store.EnsureSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.KID == old.KID {
		t.Fatal("rotate-key kept the active key")
	}
	if !strings.Contains(out.String(), "new signing key "+cur.KID) {
		t.Errorf("stdout %q does not name the new key %s", out.String(), cur.KID)
	}
	set, err := store.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	if diff := cmp.Diff([]string{cur.KID, old.KID}, kids); diff != "" {
		t.Errorf("JWKS kids after rotate-key (-want +got):\n%s", diff)
	}
	if _, err := store.Verify(ctx, tok, auth.VerifyOptions{Issuers: []string{iss}}); err != nil {
		t.Errorf("token signed by the retired key: %v", err)
	}
}

// `parachute auth mint-token` refuses bad arguments with the usage exit
// code before it contacts any hub.
func TestAuthMintTokenUsage(t *testing.T) {
	t.Setenv("PARACHUTE_HOME", t.TempDir())
	t.Setenv("PARACHUTE_HUB_URL", "http://127.0.0.1:1") // nothing listens: a usage error must not get that far
	for name, args := range map[string][]string{
		"no scope":                  {"auth", "mint-token"},
		"ephemeral and expires-in":  {"auth", "mint-token", "--scope", "a:b", "--ephemeral", "--expires-in", "60"},
		"non-positive expires-in":   {"auth", "mint-token", "--scope", "a:b", "--expires-in", "0"},
		"permissions not an object": {"auth", "mint-token", "--scope", "a:b", "--permissions", "[1]"},
		"stray positional argument": {"auth", "mint-token", "--scope", "a:b", "extra"},
		"host scope":                {"auth", "mint-token", "--scope", "vault:default:read parachute:host:admin"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Main(context.Background(), args, &out, &errOut); code != ExitUsage || out.Len() > 0 {
				t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want %d and nothing on stdout", args, code, out.String(), errOut.String(), ExitUsage)
			}
		})
	}
}
