package hub

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
)

// TestOperatorRoutesCheckAudienceAndJTI signs tokens with the hub's real
// key (read back from hub.db) and checks the operator API accepts only
// operator-audience tokens that carry a jti.
func TestOperatorRoutesCheckAudienceAndJTI(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dbPath := filepath.Join(root, "hub.db")
	store, err := auth.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key, err := store.EnsureSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	priv := readPrivateKey(t, dbPath, key.KID)
	origins := Origins{Port: 1939}
	s := New(Options{Paths: config.Paths{Root: root}, Auth: store, Origins: origins, Version: "1.0.0"})

	operatorTok, _, err := store.MintOperator(ctx, origins.Issuer(), "")
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	claims := func(mod func(m map[string]any)) string {
		m := map[string]any{"iss": origins.Issuer(), "sub": "operator", "aud": "operator", "exp": exp,
			"jti": auth.NewJTI(), "scope": "parachute:host:admin", "client_id": "parachute-hub"}
		mod(m)
		return signClaims(t, priv, key.KID, m)
	}

	cases := []struct {
		name     string
		token    string
		want     int
		wantDesc string // substring of error_description
	}{
		{"operator token", operatorTok, http.StatusOK, ""},
		{"hand-signed operator audience with jti", claims(func(map[string]any) {}), http.StatusOK, ""},
		{"aud array containing operator", claims(func(m map[string]any) { m["aud"] = []string{"vault.default", "operator"} }), http.StatusOK, ""},
		{"module audience", claims(func(m map[string]any) { m["aud"] = "vault.default" }), http.StatusUnauthorized,
			`audience "vault.default" is not accepted here (want operator or hub) — use the operator token`},
		{"no aud", claims(func(m map[string]any) { delete(m, "aud") }), http.StatusUnauthorized,
			"a token without an aud claim is not accepted here"},
		{"no jti", claims(func(m map[string]any) { delete(m, "jti") }), http.StatusUnauthorized,
			"no jti claim, so it could never be revoked — run `parachute auth rotate-operator`"},
		{"empty jti", claims(func(m map[string]any) { m["jti"] = "" }), http.StatusUnauthorized, "no jti claim"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/hub", nil)
			r.Host = "127.0.0.1:1939"
			r.Header.Set("Authorization", "Bearer "+tc.token)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.want, w.Body)
			}
			if tc.wantDesc == "" {
				return
			}
			var e api.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if e.Code != "unauthenticated" || !strings.Contains(e.Description, tc.wantDesc) {
				t.Errorf("error %q %q, want unauthenticated containing %q", e.Code, e.Description, tc.wantDesc)
			}
		})
	}
}

// readPrivateKey loads the private half of signing key kid from hub.db, as
// an attacker holding any hub-minted token cannot but a test can.
func readPrivateKey(t *testing.T, dbPath, kid string) *rsa.PrivateKey {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var privPEM string
	if err := db.QueryRow(`SELECT private_key_pem FROM signing_keys WHERE kid = ?`, kid).Scan(&privPEM); err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(privPEM))
	if b == nil {
		t.Fatal("private key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// signClaims makes an RS256 JWT of claims under kid, with no defaults
// filled in (unlike auth.Store.Mint).
func signClaims(t *testing.T, priv *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(map[string]string{"alg": auth.Algorithm, "typ": "JWT", "kid": kid}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(fmt.Errorf("signing: %w", err))
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}
