package hub

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// trickle writes one byte to c every interval until c fails or stop
// closes, the way a slow-body (or slow-loris) client does. The returned
// func stops it and waits for it to return.
func trickle(c net.Conn, interval time.Duration) func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// JSON whitespace: the body stays valid, just slow.
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	})
	return func() { close(stop); wg.Wait() }
}

// TestSlowRequestBodyIsCutOff is issue 8 item 2: a client that completes
// its headers and then sends a byte every so often held its connection
// (and a file descriptor) forever. Every route must cut it off: API routes
// by the whole-request read deadline, the module proxy by its minimum
// body rate.
func TestSlowRequestBodyIsCutOff(t *testing.T) {
	limits := Limits{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: time.Second,
		ProxyBodyGrace: time.Second, ProxyMinBodyRate: 256}
	h := newTestHub(t, limits, 64)
	module := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(module.Close)
	h.addModule("mod", module.Listener.Addr().(*net.TCPAddr).Port)

	post := func(path, extra string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: " + h.addr + "\r\n" + extra +
			"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
	}
	cases := []struct {
		name string
		head string
		want int // status of the answer, 0 = closed without one
	}{
		{"API route that reads its JSON body", post("/api/modules/mod/uninstall", "Authorization: Bearer "+h.token+"\r\n"), http.StatusRequestTimeout},
		{"API route that answers without reading the body", post("/api/modules/mod/uninstall", ""), http.StatusUnauthorized},
		{"module proxy", post("/mod/upload", ""), http.StatusRequestTimeout},
		{"headers never finish", "GET /health HTTP/1.1\r\nHost: " + h.addr + "\r\nX-Slow: ", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn := h.dialFrom("127.0.0.1")
			if _, err := io.WriteString(conn, c.head); err != nil {
				t.Fatal(err)
			}
			stop := trickle(conn, 100*time.Millisecond) // 10 bytes/s
			defer stop()
			// Generous against the 1-3 s the limits allow, far below
			// "forever".
			got, took := readUntilClosed(t, conn, 15*time.Second)
			if st := statusOf(got); st != c.want {
				t.Fatalf("answer status %d after %s, want %d:\n%s", st, took, c.want, got)
			}
			t.Logf("closed after %s", took.Round(time.Millisecond))
		})
	}
}

// TestConnectionCap: connections over the cap are closed at once instead
// of queueing, the hub's own loopback address keeps a reserve so /health
// answers while other clients hold every slot, and slots come back when
// connections close.
func TestConnectionCap(t *testing.T) {
	needSecondLoopback(t)
	// A long header timeout: a connection closed quickly was closed by
	// the cap, not by a deadline.
	h := newTestHub(t, Limits{ReadHeaderTimeout: time.Minute}, 3)
	waitOpen := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for h.ln.open() != n {
			if time.Now().After(deadline) {
				t.Fatalf("open connections = %d, want %d", h.ln.open(), n)
			}
			time.Sleep(5 * time.Millisecond) // poll interval, not synchronisation
		}
	}

	var general []net.Conn
	for range 3 {
		general = append(general, h.dialFrom("127.0.0.2"))
	}
	waitOpen(3)
	if got, _ := readUntilClosed(t, h.dialFrom("127.0.0.2"), 10*time.Second); got != "" {
		t.Fatalf("a connection over the cap got %q, want it closed without an answer", got)
	}
	if code, err := h.get("/health"); err != nil || code != http.StatusOK {
		t.Fatalf("/health from 127.0.0.1 with the general slots full: %d %v, want 200 (the loopback reserve)", code, err)
	}

	waitOpen(3) // the hub has closed the /health connection

	// Fill the reserve too: the next loopback connection is refused.
	for range loopbackReserve {
		h.dialFrom("127.0.0.1")
	}
	waitOpen(3 + loopbackReserve)
	if got, _ := readUntilClosed(t, h.dialFrom("127.0.0.1"), 10*time.Second); got != "" {
		t.Fatalf("a connection over cap and reserve got %q, want it closed", got)
	}
	if got := h.ln.rejected.Load(); got != 2 {
		t.Errorf("rejected = %d, want 2", got)
	}

	// A slot freed is a slot reused.
	general[0].Close()
	waitOpen(2 + loopbackReserve)
	c := h.dialFrom("127.0.0.2")
	fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", h.addr)
	if got, _ := readUntilClosed(t, c, 10*time.Second); statusOf(got) != http.StatusOK {
		t.Fatalf("after a slot was freed, /health from 127.0.0.2 answered:\n%s", got)
	}
}

func TestMaxConns(t *testing.T) {
	cases := []struct {
		name     string
		nofile   uint64
		override int
		want     int
	}{
		{"unknown limit", 0, 0, DefaultMaxConns},
		{"unlimited", unix.RLIM_INFINITY, 0, DefaultMaxConns},
		{"plenty of descriptors", 1 << 20, 0, DefaultMaxConns},
		{"systemd default 524288", 524288, 0, DefaultMaxConns},
		{"1024 descriptors", 1024, 0, (1024 - fdHeadroom - 2*loopbackReserve) / 2},
		{"macOS launchd 256", 256, 0, minMaxConns},
		{"override wins", 1024, 5000, 5000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := maxConns(c.nofile, c.override); got != c.want {
				t.Fatalf("maxConns(%d, %d) = %d, want %d", c.nofile, c.override, got, c.want)
			}
		})
	}
}

func TestConnLimitFromEnv(t *testing.T) {
	t.Setenv("PARACHUTE_MAX_CONNS", "77")
	if got := ConnLimitFromEnv(slog.New(slog.DiscardHandler)); got != 77 {
		t.Fatalf("with PARACHUTE_MAX_CONNS=77: %d", got)
	}
	t.Setenv("PARACHUTE_MAX_CONNS", "lots")
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if got, want := ConnLimitFromEnv(slog.New(slog.DiscardHandler)), maxConns(uint64(rl.Cur), 0); got != want {
		t.Fatalf("with a bad PARACHUTE_MAX_CONNS: %d, want the default %d (RLIMIT_NOFILE %d)", got, want, rl.Cur)
	}
}

// TestLongHandlersKeepTheirContext: the whole-request read deadline does
// not cancel a handler that runs longer than it (net/http lifts it once
// the body is read), and a handler that extends its write deadline (start,
// stop, restart) can answer after WriteTimeout.
func TestLongHandlersKeepTheirContext(t *testing.T) {
	limits := Limits{ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}
	s := New(Options{Limits: limits})
	srv := NewHTTPServer(s)
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		extendWriteDeadline(w, 10*time.Second)
		// Outlive both deadlines: the elapsed time is what is under test.
		select {
		case <-r.Context().Done():
			http.Error(w, "request context cancelled", http.StatusInternalServerError)
		case <-time.After(5 * limits.ReadTimeout):
			_, _ = io.WriteString(w, "ok")
		}
	})
	ts := httptest.NewUnstartedServer(srv.Handler)
	ts.Config = srv
	ts.Start()
	t.Cleanup(ts.Close)

	for _, c := range []struct{ name, method, body string }{
		{"no body", http.MethodGet, ""},
		{"body read to the end", http.MethodPost, `{"purge":true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, ts.URL, strings.NewReader(c.body))
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != "ok" {
				t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, b)
			}
		})
	}
}
