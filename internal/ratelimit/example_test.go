package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/openparachute/parachute/internal/ratelimit"
)

// Example guards POST /login with the reference's 5 attempts per 15 minutes
// per client. CSRF is checked before Allow, so a forged cross-site POST
// does not spend the victim's attempts.
func Example() {
	// The hub passes os.Getenv; here, a proxy on loopback is trusted.
	env := map[string]string{ratelimit.EnvTrustedProxies: "127.0.0.1"}
	keyer, err := ratelimit.KeyerFromEnv(func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Unix(1_700_000_000, 0) // the hub leaves Now nil: time.Now
	login, _ := ratelimit.New(ratelimit.Config{Burst: 5, Per: 15 * time.Minute, Now: func() time.Time { return now }})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := login.Allow(keyer.Key(r)); !d.Allowed {
			w.Header().Set("Retry-After", d.RetryAfterSeconds())
			http.Error(w, "too many attempts; try again later", http.StatusTooManyRequests)
			return
		}
		// ... check the password ...
	})
	// A direct client (192.0.2.1, httptest's RemoteAddr) rotating
	// X-Forwarded-For stays in its own bucket: 192.0.2.1 is not trusted.
	for i := range 6 {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		h.ServeHTTP(rec, r)
		fmt.Printf("%d %s Retry-After=%q\n", rec.Code, keyer.Key(r), rec.Header().Get("Retry-After"))
	}
	// Output:
	// 200 192.0.2.1 Retry-After=""
	// 200 192.0.2.1 Retry-After=""
	// 200 192.0.2.1 Retry-After=""
	// 200 192.0.2.1 Retry-After=""
	// 200 192.0.2.1 Retry-After=""
	// 429 192.0.2.1 Retry-After="180"
}
