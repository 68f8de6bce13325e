package hub

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/openparachute/parachute/internal/api"
)

// Per-route deadlines, on top of the server-wide ones (limits.go).

// errSlowRequestBody is returned by a streamed request body whose client
// fell below Limits.ProxyMinBodyRate.
var errSlowRequestBody = errors.New("request body arrived too slowly")

// rateBody is the request body of a streaming route. The server's
// whole-request ReadTimeout would cut a long upload to a module, and no
// deadline at all would let one byte every few seconds hold the
// connection forever; rateBody instead moves the read deadline before
// every Read so that the client must keep up an average rate. Only the
// time spent waiting for the client counts: a module that reads its
// upload slowly does not make the client look slow. (A body read to its
// end needs nothing more: net/http lifts the deadline itself when it
// starts its background read.)
type rateBody struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	limits *Limits

	mu     sync.Mutex    // guards the fields that follow
	n      int64         // bytes read so far
	waited time.Duration // time spent inside Read so far
	eof    bool          // the body was read to its end
	done   bool          // the handler returned: leave the connection alone
	slow   error         // set when the client fell below the rate
	// inRead and deadline describe the Read in progress, if any.
	inRead   bool
	deadline time.Time
}

// Read reads from the body under the progress deadline.
func (b *rateBody) Read(p []byte) (int, error) {
	start := time.Now()
	b.mu.Lock()
	if !b.eof && !b.done {
		allowed := b.limits.ProxyBodyGrace + time.Duration(b.n/b.limits.ProxyMinBodyRate)*time.Second
		b.deadline = start.Add(allowed - b.waited)
		_ = b.rc.SetReadDeadline(b.deadline)
	}
	b.inRead = true
	b.mu.Unlock()

	n, err := b.body.Read(p)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.inRead = false
	b.n += int64(n)
	b.waited += time.Since(start)
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		b.slow = fmt.Errorf("%w (%d bytes in %s; at least %d bytes/s needed)", errSlowRequestBody,
			b.n, b.waited.Round(time.Second), b.limits.ProxyMinBodyRate)
		return n, b.slow
	}
	return n, err
}

// slowBodyError answers 408 and returns true when r (the incoming request,
// not the proxy's outgoing copy, whose body the proxy wraps) failed
// because its body fell below the minimum rate. It looks at the body rather than at
// the proxy's error: net/http cancels the request's context as soon as a
// body read fails, so the proxy may report "context canceled" before the
// failed Read has even returned to rateBody — hence the check of a Read
// still in progress past its deadline.
func slowBodyError(w http.ResponseWriter, r *http.Request, short string) bool {
	b, ok := r.Body.(*rateBody)
	if !ok {
		return false
	}

	b.mu.Lock()
	slow := b.slow != nil || (b.inRead && !b.deadline.IsZero() && !time.Now().Before(b.deadline))
	desc := fmt.Sprintf("%v (%d bytes in %s; at least %d bytes/s needed)", errSlowRequestBody,
		b.n, b.waited.Round(time.Second), b.limits.ProxyMinBodyRate)
	b.mu.Unlock()
	if !slow {
		return false
	}
	e := api.Errorf(http.StatusRequestTimeout, api.CodeRequestTimeout, "%s — send the body faster, or in one go", desc)
	e.Service = short
	writeErr(w, e)
	return true
}

// Close closes the underlying body.
func (b *rateBody) Close() error { return b.body.Close() }

// finish is called when the handler returns. A body left unread keeps a
// short read deadline, so net/http's discard of the rest (up to 256 KiB
// before it gives up on the connection) cannot be trickled forever.
func (b *rateBody) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if !b.eof {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.limits.ReadHeaderTimeout))
	}
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
	finish := func() {}
	if r.Body != nil && r.Body != http.NoBody {
		b := &rateBody{body: r.Body, rc: rc, limits: &s.limits}
		r.Body, finish = b, b.finish
	}
	iw := &idleWriter{ResponseWriter: w, rc: rc, idle: s.limits.StreamWriteIdle}
	return iw, func() {
		finish()
		// The final flush happens after the handler returns: give it a
		// full write window even if the last write was long ago.
		iw.arm()
	}
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
