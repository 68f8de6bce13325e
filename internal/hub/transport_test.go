package hub

import (
	"io"
	"net/http"
	"sync"
	"testing"
)

// TestProxyReusesModuleConnections: concurrent clients do not make the hub
// open a connection to the module per request (http.DefaultTransport keeps
// only two idle connections per host, so four clients churned through a
// new connection on most requests).
func TestProxyReusesModuleConnections(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	_, opened := moduleServer(t, h, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})

	const clients, each = 4, 50
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	t.Cleanup(c.CloseIdleConnections)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				resp, err := c.Get(h.url("/mod/x"))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := opened.Load(); n > 2*clients {
		t.Errorf("the hub opened %d connections to the module for %d requests from %d clients; want at most %d", n, clients*each, clients, 2*clients)
	}
}
