package hub

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// hangBound is the module response header timeout of these tests.
const hangBound = 300 * time.Millisecond

// lockedBuffer is a log sink safe for the hub's concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proxyGoroutines returns the stacks of goroutines inside the hub's proxy
// handler, polling until there are none or 5 s passed.
func proxyGoroutines(t *testing.T) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var live []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "hub.(*Server).handleProxy") {
				live = append(live, g)
			}
		}
		if len(live) == 0 || time.Now().After(deadline) {
			return live
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestProxyHangingModuleGets504: a module that accepts a request and never
// sends headers is answered 504 within the bound, on the direct path (GET)
// and on the http.Transport path (POST), as JSON to an API client and as
// the "unreachable" page to a browser; the hub's handler goroutines are
// released (the client is still connected, so only the bound can free
// them), and the timeouts are logged once per module.
func TestProxyHangingModuleGets504(t *testing.T) {
	h := newTestHub(t, Limits{ProxyHeaderTimeout: hangBound}, 64)
	logs := &lockedBuffer{}
	h.s.log = slog.New(slog.NewTextHandler(logs, nil))
	h.writeRows(h.startHelperModule("wedged", nil))
	// The client would wait much longer than the bound: only the hub may
	// end these requests.
	client := &http.Client{Timeout: 8 * time.Second}
	defer client.CloseIdleConnections()
	cases := []struct {
		name, method, accept string
		body                 io.Reader
	}{
		{"GET", "GET", "application/json", nil},
		{"POST", "POST", "application/json", strings.NewReader(`{"x":1}`)},
		{"browser GET", "GET", "text/html", nil},
		{"browser POST", "POST", "text/html", strings.NewReader("a=b")},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, h.url("/wedged/hang"), c.body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", c.accept)
		start := time.Now()
		resp, err := client.Do(req)
		took := time.Since(start)
		if err != nil {
			t.Errorf("%s: no answer from the hub after %v: %v", c.name, took, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("%s: status %d %q, want 504", c.name, resp.StatusCode, body)
		}
		if took < hangBound || took > hangBound+5*time.Second {
			t.Errorf("%s: answered after %v, want just over %v", c.name, took, hangBound)
		}
		if c.accept == "text/html" {
			if !strings.Contains(string(body), "wedged is unreachable") {
				t.Errorf("%s: page %q lacks the unreachable title", c.name, body)
			}
			continue
		}
		var e struct {
			Error   string `json:"error"`
			Service string `json:"service"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error != "upstream_unreachable" || e.Service != "wedged" {
			t.Errorf("%s: body %q (%v), want the upstream_unreachable JSON error for wedged", c.name, body, err)
		}
	}
	if live := proxyGoroutines(t); len(live) > 0 {
		t.Errorf("%d proxy handler goroutine(s) still running after the 504s:\n%s", len(live), strings.Join(live, "\n\n"))
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"module sent no response headers"); n != 1 {
		t.Errorf("header timeouts logged %d times, want once a minute per module:\n%s", n, logs)
	}
	// The module is still fine for requests it does answer: the timed-out
	// connections were closed, never handed to the next request.
	resp, err := client.Get(h.url("/wedged/ok"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "wedged /wedged/ok") {
		t.Errorf("after the timeouts: %d %q", resp.StatusCode, b)
	}
}

// TestProxyHeaderBoundSparesStreams: the bound is on headers only. An SSE
// module that sends its headers at once and then stays quiet for longer
// than the bound keeps its stream.
func TestProxyHeaderBoundSparesStreams(t *testing.T) {
	h := newTestHub(t, Limits{ProxyHeaderTimeout: hangBound, StreamWriteIdle: 10 * time.Second}, 64)
	h.writeRows(h.startHelperModule("quiet", nil))
	resp, err := http.Get(h.url("/quiet/sse"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if l := readLine(t, br); l != "data: 0" {
		t.Fatalf("first event %q", l)
	}
	<-time.After(3 * hangBound) // the stream's silence is what this test is about
	r, err := http.Post(h.url("/quiet/next"), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	_ = readLine(t, br) // the separator after event 0
	if l := readLine(t, br); l != "data: 1" {
		t.Fatalf("event after the pause %q, want data: 1", l)
	}
}

// TestProxyHeaderTimeoutPerModule: a module's
// supervise.responseHeaderTimeoutSeconds replaces the hub's bound for that
// module only (a long-poll module raises it; here one lowers it so the
// test stays short).
func TestProxyHeaderTimeoutPerModule(t *testing.T) {
	h := newTestHub(t, Limits{ProxyHeaderTimeout: 30 * time.Second}, 64)
	h.writeRows(h.startHelperModule("poll", map[string]any{"supervise": map[string]any{"responseHeaderTimeoutSeconds": 1}}))
	client := &http.Client{Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	start := time.Now()
	resp, err := client.Get(h.url("/poll/hang"))
	took := time.Since(start)
	if err != nil {
		t.Fatalf("no answer from the hub after %v: %v", took, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || took < time.Second || took > 10*time.Second {
		t.Errorf("status %d after %v, want 504 after just over the module's 1 s", resp.StatusCode, took)
	}
}
