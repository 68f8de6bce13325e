package hub

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/supervisor"
	"github.com/openparachute/parachute/internal/testenv"
)

// startHelperModule runs the helper module (TestHelperModule) as module
// name under the hub's supervisor, on a free port, and returns its
// services.json row (mounted at /<name>) for writeRows. The supervisor's
// readiness probe has passed when it returns.
func (h *testHub) startHelperModule(name string, extra map[string]any) map[string]any {
	h.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		testenv.Unavailable(h.t, "cannot find the test binary to run as a module: %v", err)
	}
	port := freePort(h.t)
	env := append(os.Environ(), fmt.Sprintf("PORT=%d", port), helperModuleEnv+"="+name)
	if _, err := h.sup.Start(context.Background(), supervisor.Spec{Short: name,
		Argv: []string{exe, "-test.run=^TestHelperModule$"}, Env: env, Port: port, HealthPath: "/" + name + "/health"}); err != nil {
		h.t.Fatalf("starting helper module %s: %v", name, err)
	}
	row := map[string]any{"name": name, "port": port, "paths": []string{"/" + name},
		"health": "/" + name + "/health", "version": "1.0.0"}
	for k, v := range extra {
		row[k] = v
	}
	return row
}

// writeRows replaces services.json with rows, atomically (as install does).
func (h *testHub) writeRows(rows ...map[string]any) {
	h.t.Helper()
	b, err := json.Marshal(map[string]any{"services": rows})
	if err != nil {
		h.t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(h.paths.ServicesJSON()), ".services.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.paths.ServicesJSON()); err != nil {
		h.t.Fatal(err)
	}
}

// wsDial opens a WebSocket to the hub at path and completes the handshake.
func (h *testHub) wsDial(path string) (net.Conn, *bufio.Reader) {
	h.t.Helper()
	c := h.dialFrom("127.0.0.1")
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, h.addr, key)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		h.t.Fatalf("websocket handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		b, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("websocket handshake answered %d %v %q", resp.StatusCode, resp.Header, b)
	}
	return c, br
}

// TestProxyWebSocketEcho: a WebSocket to a real module passes through the
// hub both ways, message by message, and outlives the request deadlines.
func TestProxyWebSocketEcho(t *testing.T) {
	h := newTestHub(t, streamLimits, 64)
	h.writeRows(h.startHelperModule("wsmod", nil))
	c, br := h.wsDial("/wsmod/ws")
	roundTrip := func(msg string) {
		t.Helper()
		if err := wsWriteFrame(c, 0x1, []byte(msg), true); err != nil {
			t.Fatalf("sending %q: %v", msg, err)
		}
		op, got, err := wsReadFrame(br)
		if err != nil || op != 0x1 || string(got) != msg {
			t.Fatalf("echo of %q = op %d %q, %v", msg, op, got, err)
		}
	}
	roundTrip("one") // answered before the client sends anything more: not buffered
	outlive()
	roundTrip("two")
	big := strings.Repeat("x", 200<<10)
	roundTrip(big)
	_ = wsWriteFrame(c, 0x8, nil, true)
}

// TestProxySSEIncremental: each server-sent event reaches the client as the
// module sends it, including after a pause longer than every request
// deadline.
func TestProxySSEIncremental(t *testing.T) {
	h := newTestHub(t, streamLimits, 64)
	h.writeRows(h.startHelperModule("ssemod", nil))
	resp, err := http.Get(h.url("/ssemod/sse"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	expect := func(want string) {
		t.Helper()
		if l := readLine(t, br); l != want {
			t.Fatalf("event %q, want %q", l, want)
		}
		if l := readLine(t, br); l != "" {
			t.Fatalf("event separator %q", l)
		}
	}
	release := func() {
		t.Helper()
		r, err := http.Post(h.url("/ssemod/next"), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
	}
	expect("data: 0") // the module waits for /next before event 1
	release()
	expect("data: 1")
	outlive()
	release()
	expect("data: 2")
}

// TestProxyLongStreamKeepsWriting: a stream that writes steadily for longer
// than WriteTimeout and than StreamWriteIdle is not cut: the idle bound
// applies to each write, not to the stream.
func TestProxyLongStreamKeepsWriting(t *testing.T) {
	lim := streamLimits
	lim.StreamWriteIdle = 300 * 1e6 // 300 ms, a third of the stream's length
	h := newTestHub(t, lim, 64)
	h.writeRows(h.startHelperModule("feed", nil))
	resp, err := http.Get(h.url("/feed/sse?ticks=20&every=50ms"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("stream cut after %q: %v", b, err)
	}
	if n := strings.Count(string(b), "data: "); n != 20 || !strings.HasSuffix(string(b), "data: 19\n\n") {
		t.Fatalf("got %d events: %q", n, b)
	}
}

// TestProxyLargeUpload: an 8 MiB body reaches the module intact.
func TestProxyLargeUpload(t *testing.T) {
	h := newTestHub(t, Limits{}, 64)
	h.writeRows(h.startHelperModule("up", nil))
	body := make([]byte, 8<<20)
	_, _ = rand.Read(body)
	sum := sha256.Sum256(body)
	resp, err := http.Post(h.url("/up/upload"), "application/octet-stream", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if want := fmt.Sprintf("%d %s", len(body), hex.EncodeToString(sum[:])); resp.StatusCode != 200 || string(got) != want {
		t.Fatalf("upload answered %d %q, want %q", resp.StatusCode, got, want)
	}
}
