package hub

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzModuleTransportResponse feeds arbitrary bytes to moduleTransport as a
// module's answer to a GET: it must return an error or a response whose
// body reads to an end, never panic or hang, and never pool a connection
// whose answer it did not read completely.
func FuzzModuleTransportResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
		"garbage\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 204 No Content\r\n\r\nstray",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		served := make(chan struct{})
		go func() {
			defer close(served)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			_, _ = c.Write(answer)
		}()
		tr := newModuleTransport(http.DefaultTransport)
		defer tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := httptest.NewRequest("GET", "http://"+ln.Addr().String()+"/x", nil).WithContext(ctx)
		req.RequestURI = ""
		resp, err := tr.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		<-served
		if ctx.Err() != nil {
			t.Fatalf("round trip hung on %q", answer)
		}
		tr.mu.Lock()
		pooled := tr.idle[ln.Addr().String()]
		tr.mu.Unlock()
		if len(pooled) > 0 && (err != nil || resp.Close) {
			t.Errorf("pooled a connection after err=%v close=%v on %q", err, resp != nil && resp.Close, answer)
		}
		// Bytes past the answer's framing would be read as the next
		// request's answer (proxydesync_test.go).
		if len(pooled) > 0 && pooled[0].br.Buffered() > 0 {
			t.Errorf("pooled a connection with %d stray bytes buffered on %q", pooled[0].br.Buffered(), answer)
		}
	})
}
