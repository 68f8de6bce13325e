package hub

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// rawModule is a module speaking HTTP/1.1 by hand, so it can frame its
// answers wrongly. answer is called for each request with the index of the
// connection (0 for the first accepted) and of the request on it, and
// returns the bytes to write; write sends bytes outside any answer.
type rawModule struct {
	ln     net.Listener
	answer func(conn, req int, r *http.Request) string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startRawModule(t *testing.T, answer func(conn, req int, r *http.Request) string) *rawModule {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &rawModule{ln: ln, answer: answer}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m.mu.Lock()
			m.conns = append(m.conns, c)
			m.mu.Unlock()
			m.wg.Add(1)
			go func(i int, c net.Conn) {
				defer m.wg.Done()
				br := bufio.NewReader(c)
				for j := 0; ; j++ {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, r.Body)
					if _, err := io.WriteString(c, m.answer(i, j, r)); err != nil {
						return
					}
				}
			}(i, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		m.mu.Lock()
		for _, c := range m.conns {
			c.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return m
}

// write sends bytes on the module's conn-th connection, outside any
// answer (an unsolicited write).
func (m *rawModule) write(t *testing.T, conn int, s string) {
	t.Helper()
	m.mu.Lock()
	c := m.conns[conn]
	m.mu.Unlock()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// smuggled is a complete HTTP response a module leaves on its connection
// beyond the answer it was asked for; a reused connection must never hand
// it to the next client as the answer to their request.
const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\nanother's reply"

// A module that writes more than its answer's framing says (a body on a
// HEAD answer or a 304, a Content-Length shorter than what it sends, an
// unsolicited write while the connection is idle) must not have the extra
// bytes read as the answer to the next request on that connection, which
// may be another client's: the connection is not reused.
func TestModuleTransportNeverReusesAConnectionWithStrayBytes(t *testing.T) {
	cases := []struct {
		name   string
		method string
		first  string // the answer to the first request on the first connection
		late   string // written on that connection once the first answer was read
	}{
		{"a body on a HEAD answer", "HEAD",
			"HTTP/1.1 200 OK\r\nContent-Length: " + itoa(len(smuggled)) + "\r\n\r\n" + smuggled, ""},
		{"a body on a 304", "GET", "HTTP/1.1 304 Not Modified\r\n\r\n" + smuggled, ""},
		{"a Content-Length shorter than the body", "GET",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + smuggled, ""},
		{"an unsolicited answer while idle", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", smuggled},
		{"an unsolicited answer after a HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", smuggled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := startRawModule(t, func(conn, req int, r *http.Request) string {
				if conn == 0 && req == 0 {
					return tc.first
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nmine"
			})
			tr := newModuleTransport(http.DefaultTransport)
			t.Cleanup(tr.CloseIdleConnections)
			do := func(method string) (int, string) {
				t.Helper()
				req := httptest.NewRequest(method, "http://"+m.ln.Addr().String()+"/x", nil)
				req.RequestURI = ""
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatalf("%s: %v", method, err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			do(tc.method)
			if tc.late != "" {
				// Loopback: the bytes are in the hub's receive queue once
				// the write returns.
				m.write(t, 0, tc.late)
			}
			if code, body := do("GET"); code != 200 || body != "mine" {
				t.Fatalf("the next GET got %d %q, want 200 \"mine\" (the module's answer to it)", code, body)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
