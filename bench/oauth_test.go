package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/oauth"
)

// BenchmarkOAuthRefresh measures POST /oauth/token refresh grants per
// second (each one verifies the client, rotates the refresh row in an
// IMMEDIATE transaction and signs an RS256 access token) against its
// floor in the same run: raw RS256 signatures per second with a 2048-bit
// key on the same cores. Clients run in parallel, one token family each.
//
// Run: go test -run '^$' -bench OAuthRefresh -benchtime 3s ./bench/
func BenchmarkOAuthRefresh(b *testing.B) {
	b.Run("floor_rs256_sign", func(b *testing.B) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			b.Fatal(err)
		}
		digest := sha256.Sum256([]byte("a typical access token's signing input"))
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "signs/s")
	})
	b.Run("token_refresh", func(b *testing.B) {
		ctx := context.Background()
		store, err := auth.Open(filepath.Join(b.TempDir(), "hub.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		if _, err := store.EnsureSigningKey(ctx); err != nil {
			b.Fatal(err)
		}
		u, err := accounts.NewStore(store.DB()).Create(ctx, "owner", "correct horse battery", accounts.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		st := oauth.SQLStore(store.DB())
		now := time.Now()
		if err := st.CreateClient(ctx, oauth.Client{ID: "bench", RedirectURIs: []string{"http://127.0.0.1/cb"},
			Status: oauth.StatusApproved, RegisteredAt: now}); err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		defer srv.Close()
		oauth.New(oauth.Options{Auth: func() *auth.Store { return store }, Issuer: func() string { return srv.URL },
			Origins: func() []string { return []string{srv.URL} }, NoRateLimit: true}).Register(mux)

		var family atomic.Int64
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			// Each client starts its own family with a seeded refresh token.
			n := family.Add(1)
			rt := fmt.Sprintf("seed-refresh-token-%d-%d", n, now.UnixNano())
			jti := auth.NewJTI()
			if err := st.InsertRefresh(ctx, oauth.RefreshRow{JTI: jti, UserID: u.ID, ClientID: "bench",
				Scopes: []string{"vault:default:read"}, Hash: sha256Hex(rt), FamilyID: jti,
				ExpiresAt: now.Add(time.Hour)}, now); err != nil {
				b.Error(err)
				return
			}
			c := srv.Client()
			for pb.Next() {
				resp, err := c.PostForm(srv.URL+"/oauth/token", url.Values{"grant_type": {"refresh_token"},
					"client_id": {"bench"}, "refresh_token": {rt}})
				if err != nil {
					b.Error(err)
					return
				}
				var body struct {
					RefreshToken string `json:"refresh_token"`
					Error        string `json:"error"`
				}
				err = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					b.Errorf("refresh: %d %v %s", resp.StatusCode, err, body.Error)
					return
				}
				rt = body.RefreshToken
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "refreshes/s")
	})
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x", h)
}
