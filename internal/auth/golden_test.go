package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/hubdb"
)

// Golden tokens: minted by the hand-written JWT code this package had
// before it moved to go-jose, with a fixed test key and clock, and kept in
// testdata so tokens already handed out (operator.token files, module
// tokens) keep verifying after any change to how we sign or parse.
//
// PARACHUTE_AUTH_WRITE_GOLDEN=1 regenerates them; only do that on purpose.
const (
	goldenKeyFile    = "testdata/golden-key.pem" // a test-only RSA key, never used outside tests
	goldenTokensFile = "testdata/golden-tokens.json"
	goldenIssuer     = "http://127.0.0.1:1939"
)

// goldenNow is the clock the golden tokens were minted and are verified at.
var goldenNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// goldenClaims are the claim sets of the golden tokens, by name.
func goldenClaims() map[string]Claims {
	exp := goldenNow.Add(OperatorTTL).Unix()
	return map[string]Claims{
		"operator": {
			Issuer: goldenIssuer, Subject: OperatorSubject, Audience: OperatorAudience,
			IssuedAt: goldenNow.Unix(), ExpiresAt: exp, JTI: "golden-operator",
			Scope: "hub:admin parachute:host:admin", ClientID: OperatorClientID,
			ScopeSet: DefaultScopeSet, VaultScope: []string{},
		},
		"vault": {
			Issuer: goldenIssuer, Subject: "user-1", Audience: "vault.default",
			Audiences: []string{"vault.default", "hub"},
			IssuedAt:  goldenNow.Unix(), ExpiresAt: exp, NotBefore: goldenNow.Unix(), JTI: "golden-vault",
			Scope: "vault:default:read vault:default:write", ClientID: "client-1",
			VaultScope: []string{"default"},
			Extra:      map[string]any{"permissions": map[string]any{"tags": []any{"a", "b"}, "read": true}},
		},
	}
}

// goldenStore opens a fresh store holding only the golden key.
func goldenStore(t testing.TB) (*Store, string) {
	t.Helper()
	b, err := os.ReadFile(goldenKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := parsePrivatePEM(string(b))
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	s, err := Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	fixedClock(s, goldenNow)
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	g := generatedKey{kid: KID(pubPEM), pubPEM: pubPEM, privPEM: string(b), createdAt: hubdb.FormatTime(goldenNow.Add(-time.Hour))}
	if err := insertKey(context.Background(), tx, g); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return s, g.kid
}

func TestGoldenTokensVerify(t *testing.T) {
	if os.Getenv("PARACHUTE_AUTH_WRITE_GOLDEN") == "1" {
		writeGolden(t)
	}
	s, _ := goldenStore(t)
	b, err := os.ReadFile(goldenTokensFile)
	if err != nil {
		t.Fatal(err)
	}
	var toks map[string]string
	if err := json.Unmarshal(b, &toks); err != nil {
		t.Fatal(err)
	}
	want := goldenClaims()
	if len(toks) != len(want) {
		t.Fatalf("golden file has %d tokens, want %d", len(toks), len(want))
	}
	for name, tok := range toks {
		t.Run(name, func(t *testing.T) {
			wc := want[name]
			got, err := s.Verify(context.Background(), tok, VerifyOptions{
				Issuers: []string{goldenIssuer}, Audiences: []string{wc.Audience}})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(&wc, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// writeGolden makes the key (when missing) and mints the golden tokens
// with the current code.
func writeGolden(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(goldenKeyFile); os.IsNotExist(err) {
		priv, err := rsa.GenerateKey(rand.Reader, keyBits)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := goldenStore(t)
	out := map[string]string{}
	for name, c := range goldenClaims() {
		tok, err := s.Mint(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = tok
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenTokensFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
