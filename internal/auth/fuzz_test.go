package auth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary strings to Verify. It must never panic, and
// whatever it accepts must carry an RS256 signature that the store's key
// verifies over the token's own first two parts, checked here with the
// standard library rather than go-jose.
func FuzzVerify(f *testing.F) {
	b, err := os.ReadFile(goldenTokensFile)
	if err != nil {
		f.Fatal(err)
	}
	var golden map[string]string
	if err := json.Unmarshal(b, &golden); err != nil {
		f.Fatal(err)
	}
	for _, tok := range golden {
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")                        // no signature
		f.Add(parts[0] + "." + parts[1])                              // two parts
		f.Add(tok + ".")                                              // four parts
		f.Add(enc(`{"alg":"none","kid":"x"}`) + "." + parts[1] + ".") // alg none
		f.Add(enc(`{"alg":"HS256"}`) + "." + parts[1] + "." + parts[2])
		f.Add(enc(`{"alg":"RS256","crit":["b64"],"b64":false}`) + "." + parts[1] + "." + parts[2])
		f.Add(strings.Replace(tok, "e", "f", 1))
		f.Add(" " + tok)
	}
	f.Add("")
	f.Add("..")
	f.Add(`{"payload":"e30","protected":"e30","signature":""}`)

	s, kid := goldenStore(f)
	k, err := s.verifyingKey(context.Background(), kid, goldenNow)
	if err != nil {
		f.Fatal(err)
	}
	opts := VerifyOptions{AnyIssuer: true, Now: goldenNow}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(context.Background(), tok, opts)
		if err != nil {
			return
		}
		if c == nil {
			t.Fatal("Verify returned nil claims and nil error")
		}
		if !signedBy(k, tok) {
			t.Fatalf("Verify accepted %q, which the store's key did not sign", tok)
		}
	})
}

// signedBy reports whether tok is a compact JWS whose header says RS256
// and whose signature pub verifies.
func signedBy(pub *rsa.PublicKey, tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &h) != nil || h.Alg != Algorithm {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
}
