package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/supervisor"
	"github.com/openparachute/parachute/internal/testenv"
)

// hubParts is a Server built from real parts: a hub.db opened with
// auth.Open in a temp root, a signing key, a minted operator token (admin
// scope set) and a supervisor, shut down when the test ends.
type hubParts struct {
	s       *Server
	store   *auth.Store
	token   string // the operator token, as `parachute` reads it from disk
	paths   config.Paths
	sup     *supervisor.Supervisor
	origins Origins
}

// openDB opens a second handle on the parts' hub.db, as serve's web
// pages get one, closed when the test ends.
func (hp *hubParts) openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := hubdb.Open(context.Background(), hp.paths.HubDB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newHubParts is the one place the in-process hub tests build a Server
// with New (newTestHub serves it on a port, newRouterHub calls ServeHTTP
// directly): a change to Options or to how the hub is wired lands here.
func newHubParts(t *testing.T, origins Origins, limits Limits) *hubParts {
	t.Helper()
	// Registered first, so it runs after every cleanup below and the
	// caller's: nothing of the hub may outlive the test. The supervisor's
	// spawner thread lives as long as the process.
	testenv.NoLeaks(t, "spawnLoop")
	p := config.Paths{Root: t.TempDir()}
	ctx := context.Background()
	store, err := auth.Open(p.HubDB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnsureOperatorToken(ctx, p.OperatorToken(), origins.Issuer()); err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(p.OperatorToken())
	if err != nil {
		t.Fatal(err)
	}
	sup := supervisor.New(supervisor.Options{LogDir: p.ModuleLogDir, RunDir: p.ModuleRunDir})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sup.Shutdown(ctx)
	})
	log := slog.New(slog.DiscardHandler)
	s := New(Options{Paths: p, Supervisor: sup, Auth: store, Origins: origins, Version: "test", Logger: log, Limits: limits})
	return &hubParts{s: s, store: store, token: strings.TrimSpace(string(tok)), paths: p, sup: sup, origins: origins}
}

// testHub is an in-process hub served the way `parachute serve` serves it
// (NewHTTPServer on a capped listener), on a real 127.0.0.1 port, with a
// real hub.db, a real supervisor and a minted operator token.
type testHub struct {
	*hubParts
	t    *testing.T
	ln   *capListener
	addr string // host:port
}

// newTestHub starts a hub with the given limits and connection cap.
func newTestHub(t *testing.T, limits Limits, maxConns int) *testHub {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() }) // if newHubParts fails; closing twice is harmless
	hp := newHubParts(t, Origins{Port: raw.Addr().(*net.TCPAddr).Port}, limits)
	ln := newCapListener(raw, maxConns, hp.s.log)
	srv := NewHTTPServer(hp.s)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return &testHub{hubParts: hp, t: t, ln: ln, addr: raw.Addr().String()}
}

func (h *testHub) url(path string) string { return "http://" + h.addr + path }

// addModule registers a module row mounted at /<name> on port.
func (h *testHub) addModule(name string, port int) {
	h.t.Helper()
	b, err := json.Marshal(map[string]any{"services": []map[string]any{{
		"name": name, "port": port, "paths": []string{"/" + name}, "health": "/" + name + "/health", "version": "1.0.0"}}})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.paths.ServicesJSON(), b, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// dialFrom opens a TCP connection to the hub from the local address src
// ("127.0.0.1", or "127.0.0.2" to look like a client that is not the
// hub's own loopback address).
func (h *testHub) dialFrom(src string) net.Conn {
	h.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatalf("dialing the hub from %s: %v", src, err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// needSecondLoopback skips (or fails in CI) when 127.0.0.2 cannot be used
// as a source address (macOS configures only 127.0.0.1 on lo0).
func needSecondLoopback(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		testenv.Unavailable(t, "127.0.0.2 is not a usable loopback address here: %v", err)
		return
	}
	ln.Close()
}

// get sends one request on a fresh connection from the hub's own loopback
// address and returns the status code.
func (h *testHub) get(path string) (int, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(h.url(path))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// readUntilClosed reads c until the hub closes it (EOF or reset) and
// returns what arrived and how long that took. It gives up after limit so
// a hub that never closes fails the test instead of hanging it.
func readUntilClosed(t *testing.T, c net.Conn, limit time.Duration) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit)) // the test's own bound, not the hub's
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the hub kept the connection open for %s; got so far: %q", limit, got)
			}
			return string(got), time.Since(start)
		}
	}
}

// statusOf extracts the status code of a raw HTTP/1.1 response, 0 if none.
func statusOf(raw string) int {
	if !strings.HasPrefix(raw, "HTTP/1.1 ") || len(raw) < 12 {
		return 0
	}
	n, _ := strconv.Atoi(raw[9:12])
	return n
}

// runHub is Run itself (`parachute serve`) in this process on a free
// port over a fresh root, for the tests that stop it themselves to time
// or inspect the shutdown. (hubtest.Start cannot serve package hub's own
// tests: it imports hub.)
type runHub struct {
	base   string // "http://127.0.0.1:<port>"
	paths  config.Paths
	token  string // the operator token Run wrote, trimmed
	logs   *testenv.SyncBuffer
	stop   context.CancelFunc // begins the shutdown; Run's result then arrives on runErr
	runErr chan error
}

// startRunHub returns once Run listens and has written the operator
// token. The test ends with stop called in any case; waiting for runErr
// is the test's part.
func startRunHub(t *testing.T) *runHub {
	t.Helper()
	h := &runHub{paths: config.Paths{Root: t.TempDir()}, logs: &testenv.SyncBuffer{}, runErr: make(chan error, 1)}
	ctx, stop := context.WithCancel(context.Background())
	h.stop = stop
	t.Cleanup(stop)
	addrc := make(chan net.Addr, 1)
	go func() {
		h.runErr <- Run(ctx, RunOptions{Paths: h.paths, Port: freePort(t), Version: "test",
			Logger: slog.New(slog.NewTextHandler(h.logs, nil)), Output: h.logs,
			Listening: func(a net.Addr) { addrc <- a }})
	}()
	select {
	case a := <-addrc:
		h.base = "http://" + a.String()
	case err := <-h.runErr:
		t.Fatalf("Run returned before listening: %v\n%s", err, h.logs)
	}
	tok, err := os.ReadFile(h.paths.OperatorToken())
	if err != nil {
		t.Fatal(err)
	}
	h.token = strings.TrimSpace(string(tok))
	return h
}
