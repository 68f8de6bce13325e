package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/release"
	"github.com/openparachute/parachute/internal/testenv"
)

// imageBindEnv is the container image's bind setting: these tests run the
// hub the way the OCI image does, on all interfaces.
func imageBindEnv(t *testing.T) string {
	t.Helper()
	for _, kv := range release.ImageEnv() {
		if strings.HasPrefix(kv, "PARACHUTE_BIND_HOST=") {
			return kv
		}
	}
	t.Fatal("the image environment sets no PARACHUTE_BIND_HOST")
	return ""
}

// openFDs counts the descriptors process pid holds, -1 if unknown.
func openFDs(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// TestSlowBodyClientsCannotExhaustTheHub is issue 8 item 2 against the
// real binary bound like the OCI image: a few hundred clients complete
// their headers and then send one body byte every two seconds. Those over
// the connection cap are closed at once, the rest are cut off by the body
// deadline, the hub's descriptors stay under the cap, and /health answers
// 200 throughout.
func TestSlowBodyClientsCannotExhaustTheHub(t *testing.T) {
	const (
		maxConns = 64
		clients  = 300
		reserve  = 16 // hub.loopbackReserve
		// readTimeout is hub.DefaultLimits.ReadTimeout: admitted clients
		// must be cut off soon after it.
		readTimeout = 15 * time.Second
	)
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		testenv.Unavailable(t, "needs /proc to count the hub's descriptors")
	}
	// The attack comes from 127.0.0.2, standing in for a remote client;
	// /health is checked from 127.0.0.1, which the loopback reserve serves.
	probe, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		testenv.Unavailable(t, "127.0.0.2 is not a usable loopback address here: %v", err)
	}
	probe.Close()

	h := newHome(t)
	h.extraEnv = []string{imageBindEnv(t), "PARACHUTE_MAX_CONNS=" + strconv.Itoa(maxConns)}
	h.start()
	pid := h.cmd.Process.Pid
	baseline := openFDs(pid)

	// /health from 127.0.0.1 on fresh connections, and the hub's
	// descriptor count, sampled until the attack is over.
	var healthFails, healthOK, maxFDs atomic.Int64
	var lastHealthErr, maxKinds atomic.Value
	stopHealth := make(chan struct{})
	var healthWG sync.WaitGroup
	healthWG.Go(func() {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		tick := time.NewTicker(100 * time.Millisecond) // sampling rate
		defer tick.Stop()
		for {
			if n := int64(openFDs(pid)); n > maxFDs.Load() {
				maxFDs.Store(n)
				maxKinds.Store(fmt.Sprint(fdKinds(pid)))
			}
			resp, err := c.Get(h.url("/health"))
			switch {
			case err != nil:
				healthFails.Add(1)
				lastHealthErr.Store(err.Error())
			case resp.StatusCode != http.StatusOK:
				healthFails.Add(1)
				lastHealthErr.Store(resp.Status)
				resp.Body.Close()
			default:
				healthOK.Add(1)
				resp.Body.Close()
			}
			select {
			case <-stopHealth:
				return
			case <-tick.C:
			}
		}
	})
	defer func() { close(stopHealth); healthWG.Wait() }()

	// Anonymous, like an attacker on the image's public port: the hub
	// answers 401 without reading the body, then net/http tries to drain
	// the body before reusing the connection; the read deadline ends that.
	head := fmt.Sprintf("POST /api/modules/ghost/uninstall HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"+
		"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", h.port)
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	type result struct {
		status int
		took   time.Duration
		err    error
	}
	results := make([]result, clients)
	var conns sync.Map // index -> net.Conn still open, for the trickler
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		c, err := dialer.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(h.port)))
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer c.Close()
		// A write to a connection the hub already closed may fail; the
		// read below tells what happened.
		_, _ = io.WriteString(c, head)
		conns.Store(i, c)
		wg.Go(func() {
			defer conns.Delete(i)
			// The test's own bound: far above the hub's deadline.
			_ = c.SetReadDeadline(time.Now().Add(readTimeout + 30*time.Second))
			b, err := io.ReadAll(c)
			r := result{took: time.Since(start)}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.err = fmt.Errorf("still open after %s", r.took)
			}
			if s := string(b); strings.HasPrefix(s, "HTTP/1.1 ") && len(s) >= 12 {
				r.status, _ = strconv.Atoi(s[9:12])
			}
			results[i] = r
		})
	}
	// One body byte every two seconds to every client still connected.
	stopTrickle := make(chan struct{})
	var trickleWG sync.WaitGroup
	trickleWG.Go(func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopTrickle:
				return
			case <-tick.C:
				conns.Range(func(_, v any) bool {
					_, _ = v.(net.Conn).Write([]byte(" ")) // JSON whitespace
					return true
				})
			}
		}
	})
	wg.Wait() // every client's read has returned
	close(stopTrickle)
	trickleWG.Wait()

	admitted, refused := 0, 0
	var slowest time.Duration
	for i, r := range results {
		if r.err != nil {
			t.Errorf("client %d: %v", i, r.err)
			continue
		}
		switch r.status {
		case http.StatusUnauthorized:
			admitted++
			if r.took > readTimeout+10*time.Second {
				t.Errorf("client %d cut off after %s, want about %s", i, r.took, readTimeout)
			}
		case 0:
			refused++
			if r.took > 5*time.Second {
				t.Errorf("client %d refused only after %s: connections over the cap must be closed at once", i, r.took)
			}
		default:
			t.Errorf("client %d: status %d, want 401 (answered when the body deadline cut it off) or none (refused)", i, r.status)
		}
		slowest = max(slowest, r.took)
	}
	t.Logf("%d clients: %d admitted and cut off, %d refused; all closed after %s", clients, admitted, refused, slowest.Round(time.Millisecond))
	t.Logf("hub descriptors: %d before, at most %d during; /health: %d ok, %d failed", baseline, maxFDs.Load(), healthOK.Load(), healthFails.Load())
	if admitted > maxConns {
		t.Errorf("%d slow clients admitted, want at most the cap %d", admitted, maxConns)
	}
	if refused == 0 {
		t.Errorf("no client was refused: the cap did not apply")
	}
	// The slow clients, the health checker's connection and whatever
	// the hub holds anyway (listener, hub.db, log files).
	if limit := int64(baseline + maxConns + reserve); maxFDs.Load() > limit {
		t.Errorf("the hub held %d descriptors (%v), want at most %d (baseline %d + cap %d + reserve %d)",
			maxFDs.Load(), maxKinds.Load(), limit, baseline, maxConns, reserve)
	}
	if healthFails.Load() > 0 || healthOK.Load() == 0 {
		t.Errorf("/health failed %d time(s) (ok %d) during the attack; last: %v", healthFails.Load(), healthOK.Load(), lastHealthErr.Load())
	}
	deadline := time.Now().Add(10 * time.Second)
	for openFDs(pid) > baseline+2 {
		if time.Now().After(deadline) {
			t.Fatalf("the hub still holds %d descriptors 10s after the attack (baseline %d): %v", openFDs(pid), baseline, fdKinds(pid))
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not synchronisation
	}
}

// fdKinds summarises what pid's descriptors point at, for failure messages.
func fdKinds(pid int) map[string]int {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	ents, _ := os.ReadDir(dir)
	kinds := map[string]int{}
	for _, e := range ents {
		l, err := os.Readlink(dir + e.Name())
		if err != nil {
			continue
		}
		if i := strings.IndexAny(l, ":["); i > 0 {
			l = l[:i]
		}
		kinds[l]++
	}
	return kinds
}

// TestRequestHardening covers issue 10 against the real binary: a JSON
// body with trailing data is refused and starts nothing, and the public
// discovery document never echoes the request's Host.
func TestRequestHardening(t *testing.T) {
	h := newHome(t)
	h.extraEnv = []string{imageBindEnv(t)}
	h.start()

	t.Run("trailing JSON", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, h.url("/api/modules/ghost/uninstall"), strings.NewReader(`{"purge":false} {"purge":true}`))
		req.Header.Set("Authorization", "Bearer "+h.token())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "trailing data") {
			t.Fatalf("got %d %s, want 400 about trailing data", resp.StatusCode, b)
		}
	})

	t.Run("discovery with an evil Host", func(t *testing.T) {
		writeJSON(t, h.root+"/services.json", map[string]any{"services": []map[string]any{{
			"name": "echo", "port": freePort(t), "paths": []string{"/echo"}, "health": "/echo/health", "version": "1.0.0"}}})
		req, _ := http.NewRequest(http.MethodGet, h.url("/.well-known/parachute.json"), nil)
		req.Host = "evil.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || strings.Contains(string(b), "evil.com") {
			t.Fatalf("discovery with Host evil.com: %d\n%s", resp.StatusCode, b)
		}
		var doc struct {
			Services []struct{ URL string } `json:"services"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || len(doc.Services) != 1 {
			t.Fatalf("discovery document: %v\n%s", err, b)
		}
		if want := fmt.Sprintf("http://127.0.0.1:%d/echo", h.port); doc.Services[0].URL != want {
			t.Fatalf("echo URL %q, want %q", doc.Services[0].URL, want)
		}
	})
}
