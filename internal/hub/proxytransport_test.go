package hub

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// moduleServer starts an in-process module that counts the connections it
// accepted and registers it on h as "mod".
func moduleServer(t *testing.T, h *testHub, handler http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	m, opened := countingServer(t, handler)
	h.addModule("mod", m.Listener.Addr().(*net.TCPAddr).Port)
	return m, opened
}

// countingServer starts an in-process server, closed when the test ends,
// that counts the connections it accepted.
func countingServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var opened atomic.Int32
	m := httptest.NewUnstartedServer(handler)
	m.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			opened.Add(1)
		}
	}
	m.Start()
	t.Cleanup(m.Close)
	return m, &opened
}

// proxyGET sends one request through the hub's handler (no client
// transport of its own) and returns the recorded answer.
func proxyGET(t *testing.T, h *testHub, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1"+path, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	h.s.ServeHTTP(rec, req)
	return rec
}

// transportGoroutines counts goroutines parked in http.Transport's
// per-connection reader and writer loops.
func transportGoroutines(t *testing.T) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	return strings.Count(b.String(), "net/http.(*persistConn).readLoop(") +
		strings.Count(b.String(), "net/http.(*persistConn).writeLoop(")
}

// A small proxied GET runs on the handler's goroutine: its idle module
// connection parks no reader/writer goroutine pair (http.Transport's
// hand-offs between them were most of the proxy's overhead, issue 11), and
// it allocates no 32 KiB copy buffer per request.
func TestProxySmallGETIsCheap(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	_, opened := moduleServer(t, h, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	before := transportGoroutines(t) // before the first connection to this module
	for range 3 {                    // warm: route table, pools
		if rec := proxyGET(t, h, "GET", "/mod/x"); rec.Code != 200 || rec.Body.String() != "ok" {
			t.Fatalf("GET /mod/x = %d %q", rec.Code, rec.Body)
		}
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	const n = 50
	for range n {
		if rec := proxyGET(t, h, "GET", "/mod/x"); rec.Code != 200 {
			t.Fatalf("GET /mod/x = %d", rec.Code)
		}
	}
	runtime.ReadMemStats(&ms1)
	if got := transportGoroutines(t); got > before {
		t.Errorf("http.Transport connection goroutines went from %d to %d: the small GET did not take the direct path", before, got)
	}
	if c := opened.Load(); c != 1 {
		t.Errorf("the module accepted %d connections for %d sequential requests, want 1", c, n+3)
	}
	// The module's own server and the recorder allocate too; a 32 KiB
	// buffer per request alone would exceed this.
	if per := (ms1.TotalAlloc - ms0.TotalAlloc) / n; per > 24<<10 {
		t.Errorf("a proxied small GET allocates %d bytes, want under 24 KiB", per)
	}
}

// The direct path keeps http.Transport's connection rules: a connection is
// reused only after a complete body the module let stay open, a pooled
// connection the module closed is retried on a new one, HEAD and 304 carry
// no body, oversized headers are refused.
func TestModuleTransportConnectionRules(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	m, opened := moduleServer(t, h, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/mod/close":
			w.Header().Set("Connection", "close")
		case "/mod/notmod":
			w.WriteHeader(http.StatusNotModified)
			return
		case "/mod/huge":
			w.Header().Set("X-Big", strings.Repeat("a", 10<<20+1<<10))
		case "/mod/hints":
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
		}
		_, _ = io.WriteString(w, "body")
	})
	steps := []struct {
		name       string
		method     string
		path       string
		before     func()
		wantCode   int
		wantBody   string
		wantOpened int32 // connections the module has accepted after the step
	}{
		{"first GET dials", "GET", "/mod/a", nil, 200, "body", 1},
		{"second GET reuses", "GET", "/mod/a", nil, 200, "body", 1},
		{"HEAD has no body and reuses", "HEAD", "/mod/a", nil, 200, "", 1},
		{"304 has no body and reuses", "GET", "/mod/notmod", nil, 304, "", 1},
		// The 103 is relayed to the client before the answer (the recorder
		// keeps the first status it is given), as through http.Transport.
		{"103 is relayed, then the answer", "GET", "/mod/hints", nil, 103, "body", 1},
		{"Connection: close is honoured", "GET", "/mod/close", nil, 200, "body", 1},
		{"so the next GET dials", "GET", "/mod/a", nil, 200, "body", 2},
		{"module dropped its connections: retried on a new one", "GET", "/mod/a", m.CloseClientConnections, 200, "body", 3},
		// Over http.Transport's 10 MiB MaxResponseHeaderBytes default, as before.
		{"oversized response headers: 502", "GET", "/mod/huge", nil, 502, "", 3},
		{"after which a new connection", "GET", "/mod/a", nil, 200, "body", 4},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		rec := proxyGET(t, h, st.method, st.path)
		if rec.Code != st.wantCode || (st.wantBody != "" && rec.Body.String() != st.wantBody) || (st.method == "HEAD" && rec.Body.Len() != 0) {
			t.Fatalf("%s: %s %s = %d %q, want %d %q", st.name, st.method, st.path, rec.Code, rec.Body, st.wantCode, st.wantBody)
		}
		if got := opened.Load(); got != st.wantOpened {
			t.Fatalf("%s: module accepted %d connections, want %d", st.name, got, st.wantOpened)
		}
	}
}

// A client that goes away in the middle of a streamed answer frees the
// module's connection: the module sees its request cancelled, and the
// connection is not put back in the pool.
func TestModuleTransportCancelMidBody(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	gone := make(chan struct{})
	_, opened := moduleServer(t, h, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/mod/stream" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the hub closed the connection
		close(gone)
	})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "http://127.0.0.1/mod/stream", nil).WithContext(ctx)
	req.RemoteAddr = "127.0.0.1:40000"
	pr, pw := io.Pipe()
	rec := &pipeRecorder{ResponseRecorder: httptest.NewRecorder(), w: pw}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.s.ServeHTTP(rec, req)
	}()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first chunk = %q, %v", buf, err)
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	<-gone
	<-done
	pw.Close()
	if rec := proxyGET(t, h, "GET", "/mod/a"); rec.Code != 200 {
		t.Fatalf("GET after a cancelled stream = %d", rec.Code)
	}
	if got := opened.Load(); got != 2 {
		t.Errorf("module accepted %d connections, want 2 (the cancelled one is never reused)", got)
	}
}

// pipeRecorder records the status and headers and streams the body into
// a pipe, so a test can read a streamed answer while the handler runs.
type pipeRecorder struct {
	*httptest.ResponseRecorder
	w *io.PipeWriter
}

func (p *pipeRecorder) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeRecorder) Flush()                      {}

// After a module restart every pooled connection to it is dead, not just
// the first one tried: the retry must not pick another dead one.
func TestModuleTransportRetriesPastDeadPool(t *testing.T) {
	const conns = 3
	arrived := make(chan struct{}, conns)
	release := make(chan struct{})
	m, opened := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			arrived <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})
	tr := newModuleTransport(http.DefaultTransport)
	t.Cleanup(tr.CloseIdleConnections)
	get := func(path string) error {
		req := httptest.NewRequest("GET", m.URL+path, nil)
		req.RequestURI = ""
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
			return fmt.Errorf("body %q, %v", b, err)
		}
		return nil
	}
	// Three requests at once leave three idle connections in the pool.
	errs := make(chan error, conns)
	for range conns {
		go func() { errs <- get("/hold") }()
	}
	for range conns {
		<-arrived
	}
	close(release)
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tr.idle[m.Listener.Addr().String()]); n != conns {
		t.Fatalf("%d idle connections, want %d", n, conns)
	}
	m.CloseClientConnections() // the module restarted
	if err := get("/x"); err != nil {
		t.Fatalf("GET after the module dropped every connection: %v", err)
	}
	if got := opened.Load(); got != conns+1 {
		t.Errorf("module accepted %d connections, want %d", got, conns+1)
	}
}

// An idle connection to a module nobody asks for any more (uninstalled,
// moved) is closed by the next sweep rather than held until the hub exits.
func TestModuleTransportSweepsLongIdle(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	gone, live := httptest.NewServer(ok), httptest.NewServer(ok)
	t.Cleanup(gone.Close)
	t.Cleanup(live.Close)
	tr := newModuleTransport(http.DefaultTransport)
	t.Cleanup(tr.CloseIdleConnections)
	get := func(base string) {
		t.Helper()
		req := httptest.NewRequest("GET", base+"/x", nil)
		req.RequestURI = ""
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get(gone.URL)
	goneAddr := gone.Listener.Addr().String()
	tr.mu.Lock()
	for _, mc := range tr.idle[goneAddr] {
		mc.idleSince = time.Now().Add(-2 * tr.idleTimeout) // as if it sat there that long
	}
	tr.swept = time.Now().Add(-2 * tr.idleTimeout) // and no sweep ran since
	tr.mu.Unlock()
	get(live.URL)
	if n := len(tr.idle[goneAddr]); n != 0 {
		t.Errorf("%d long-idle connections to the unused module kept, want 0", n)
	}
	if n := len(tr.idle[live.Listener.Addr().String()]); n != 1 {
		t.Errorf("%d idle connections to the live module, want 1", n)
	}
}
