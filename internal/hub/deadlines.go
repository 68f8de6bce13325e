package hub

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Per-route deadlines, on top of the server-wide ones (limits.go).

// errSlowRequestBody is returned by a streamed request body whose client
// fell below Limits.ProxyMinBodyRate.
var errSlowRequestBody = errors.New("request body arrived too slowly")

// guardedBody wraps every request body. Its job: once a handler has read
// the body to the end, lift the read deadline. net/http keeps reading the
// connection in the background while a handler runs (to notice a client
// that hangs up) and cancels r.Context() when that read fails, so a
// whole-request ReadTimeout would otherwise cancel any handler that runs
// longer than it. In streaming mode it also applies the progress deadline.
type guardedBody struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	limits *Limits

	mu    sync.Mutex // guards the fields that follow
	n     int64      // bytes read so far
	eof   bool       // the body was read to its end
	done  bool       // the handler returned: leave the connection alone
	start time.Time  // streaming mode: when the progress clock started
	rate  int64      // streaming mode: minimum average bytes a second; 0 = off
}

// Read reads from the body under the current deadline.
func (b *guardedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.rate > 0 && !b.eof && !b.done {
		allowed := b.limits.ProxyBodyGrace + time.Duration(b.n/b.rate)*time.Second
		_ = b.rc.SetReadDeadline(b.start.Add(allowed))
	}
	b.mu.Unlock()

	n, err := b.body.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += int64(n)
	if errors.Is(err, io.EOF) && !b.eof {
		b.eof = true
		if !b.done {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	var ne net.Error
	if b.rate > 0 && errors.As(err, &ne) && ne.Timeout() {
		return n, fmt.Errorf("%w (%d bytes in %s; at least %d bytes/s needed)", errSlowRequestBody,
			b.n, time.Since(b.start).Round(time.Second), b.rate)
	}
	return n, err
}

// Close closes the underlying body.
func (b *guardedBody) Close() error { return b.body.Close() }

// stream switches the body to the progress deadline.
func (b *guardedBody) stream(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.start, b.rate = now, b.limits.ProxyMinBodyRate
}

// finish is called when the handler returns. A body left unread keeps a
// short read deadline, so net/http's discard of the rest (up to 256 KiB
// before it gives up on the connection) cannot be trickled forever.
func (b *guardedBody) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if b.rate > 0 && !b.eof {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.limits.ReadHeaderTimeout))
	}
}

// guardRequest is the first thing ServeHTTP does: it lifts the read
// deadline of a request that has no body (it has been read completely; see
// guardedBody for why) and wraps any body in a guardedBody. The returned
// func must run when the handler returns.
func (s *Server) guardRequest(w http.ResponseWriter, r *http.Request) func() {
	rc := http.NewResponseController(w)
	if r.Body == nil || r.Body == http.NoBody {
		_ = rc.SetReadDeadline(time.Time{})
		return func() {}
	}
	g := &guardedBody{body: r.Body, rc: rc, limits: &s.limits}
	r.Body = g
	return g.finish
}

// extendWriteDeadline gives a handler that answers after a long
// synchronous operation d to write its answer.
func extendWriteDeadline(w http.ResponseWriter, d time.Duration) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
}

// streamDeadlines replaces the request/response deadlines of a streaming
// route (log follow, the module proxy) with progress deadlines: the body
// must keep up Limits.ProxyMinBodyRate and every write must finish within
// Limits.StreamWriteIdle, but the exchange as a whole may last as long as it
// needs. The header phase (ReadHeaderTimeout) and idle keep-alives
// (IdleTimeout) stay bounded by the server. The returned func must run
// when the handler returns.
func (s *Server) streamDeadlines(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, func()) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	if g, ok := r.Body.(*guardedBody); ok {
		g.stream(time.Now())
	} else {
		_ = rc.SetReadDeadline(time.Time{})
	}
	iw := &idleWriter{ResponseWriter: w, rc: rc, idle: s.limits.StreamWriteIdle}
	// The final flush happens after the handler returns: give it a full
	// write window even if the last write was long ago.
	return iw, iw.arm
}

// idleWriter re-arms the write deadline before every write and flush.
type idleWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *idleWriter) arm() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.idle)) }

// WriteHeader arms the deadline and writes the header.
func (w *idleWriter) WriteHeader(code int) { w.arm(); w.ResponseWriter.WriteHeader(code) }

// Write arms the deadline and writes p.
func (w *idleWriter) Write(p []byte) (int, error) { w.arm(); return w.ResponseWriter.Write(p) }

// FlushError arms the deadline and flushes (http.ResponseController
// prefers it to Flush).
func (w *idleWriter) FlushError() error { w.arm(); return w.rc.Flush() }

// Flush implements http.Flusher for callers that assert it.
func (w *idleWriter) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach the connection (Hijack for
// WebSocket upgrades, deadlines).
func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
