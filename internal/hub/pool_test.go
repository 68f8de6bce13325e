package hub

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/sessions"
	"github.com/openparachute/parachute/internal/testenv"
)

// hubDBFDs counts this process's open descriptors on path (hub.db itself,
// not its -wal or -shm).
func hubDBFDs(t *testing.T, path string) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
			n++
		}
	}
	return n
}

// TestRunSharesOneHubDBPool: `parachute serve` opens hub.db once. Under
// concurrent requests that touch every user of the database (bearer
// checks and token minting in auth, session lookups in the pages, the
// hub_origin setting), the process never holds more descriptors on
// hub.db than one bounded pool has connections; and once Run has returned
// it holds none.
func TestRunSharesOneHubDBPool(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		testenv.Unavailable(t, "counting descriptors needs /proc/self/fd: %v", err)
		return
	}
	h := startRunHub(t)
	// A well-formed session value nobody signed in with: every page
	// request looks it up in hub.db.
	session := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	// Redirects are not followed: on this hub with no user /account/'s
	// hand-off to /login would end at the setup gate's 503.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()
	do := func(method, path, body string) {
		req, _ := http.NewRequest(method, h.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.token)
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: sessions.SessionCookie, Value: session})
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s = %d", method, path, resp.StatusCode)
		}
	}

	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(hubDBFDs(t, h.paths.HubDB())); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			for range 15 {
				switch i % 4 {
				case 0:
					do(http.MethodPost, "/api/auth/mint-token", `{"scope":"vault:default:read"}`)
				case 1:
					do(http.MethodGet, "/account/", "")
				case 2:
					do(http.MethodPut, "/api/settings/hub-origin", `{"hub_origin":null}`)
				case 3:
					do(http.MethodGet, "/api/auth/tokens", "")
				}
			}
		})
	}
	wg.Wait()
	close(done)
	<-sampled
	if got := peak.Load(); got > hubdb.MaxConns || got < 1 {
		t.Errorf("peak descriptors on hub.db under load = %d, want 1..%d (one pool of hubdb.MaxConns)", got, hubdb.MaxConns)
	} else {
		t.Logf("peak descriptors on hub.db under load: %d", got)
	}

	client.CloseIdleConnections()
	h.stop()
	if err := <-h.runErr; err != nil {
		t.Fatalf("Run = %v\n%s", err, h.logs)
	}
	if n := hubDBFDs(t, h.paths.HubDB()); n != 0 {
		t.Errorf("%d descriptor(s) on hub.db still open after Run returned", n)
	}
}
