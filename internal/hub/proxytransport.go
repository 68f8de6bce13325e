package hub

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"sync"
	"syscall"
	"time"
)

// moduleTransport carries proxied requests to modules on loopback. A GET or
// HEAD without a body and without an Upgrade header (nearly every request a
// module gets) is written and its answer read on the calling goroutine,
// over a pooled keep-alive connection; everything else (uploads,
// WebSocket upgrades, other methods) goes through fallback, an
// http.Transport.
//
// Why not http.Transport for everything: it runs a reader and a writer
// goroutine per connection and hands each request and response between
// them and the caller over channels. On loopback those hand-offs (each a
// goroutine wake-up, often on the other core) were most of the proxy's
// overhead above a direct request: +125 µs p50 for a small GET on 2 cores
// (issue 11 benchmark). Here a request costs the syscalls it needs and
// nothing else, and an idle connection costs no goroutine.
//
// What it keeps of http.Transport's behaviour: connections are reused only
// after a response body was read to its end, the module did not ask to
// close and nothing arrived past the answer (strayBytes); a reused
// connection the module has closed meanwhile (a restart, its idle
// timeout) is retried once on a fresh one, which is safe because
// only body-less GET and HEAD take this path; the request's context
// cancels a dial, a request or a body read in progress (a client leaving
// an SSE stream frees the module's connection); response headers are
// capped like http.Transport's MaxResponseHeaderBytes.
type moduleTransport struct {
	fallback http.RoundTripper
	dialer   *net.Dialer
	// maxIdlePerHost bounds the idle connections kept per module; idleTimeout
	// drops one that sat unused longer (the module may have closed it).
	maxIdlePerHost int
	idleTimeout    time.Duration
	maxHeaderBytes int64
	// headerTimeout bounds the wait for a module's response headers, from
	// the start of the request to the end of its final header block
	// (0: no bound). The body is not bounded: SSE streams send headers
	// at once and then may stay quiet for long.
	headerTimeout time.Duration

	mu    sync.Mutex // guards the fields that follow
	idle  map[string][]*moduleConn
	swept time.Time // when put last closed long-idle connections
}

// moduleConn is one keep-alive connection to a module.
type moduleConn struct {
	c         net.Conn
	lr        *headerLimitReader
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

// headerLimitReader sits under the connection's bufio.Reader and fails once
// more than n bytes are read while a response's headers are being parsed
// (n < 0: no limit, while its body is read).
type headerLimitReader struct {
	c net.Conn
	n int64
}

// max1xx bounds the informational responses before a final one (as
// http.Transport's).
const max1xx = 5

var errResponseHeaderTooLarge = errors.New("module response headers too large")

// errHeaderTimeout is wrapped by the error of a request whose module sent
// no response headers within the transport's headerTimeout.
var errHeaderTimeout = errors.New("module sent no response headers in time")

func (l *headerLimitReader) Read(p []byte) (int, error) {
	if l.n == 0 {
		return 0, errResponseHeaderTooLarge
	}
	if l.n > 0 && int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	if l.n > 0 {
		l.n -= int64(n)
	}
	return n, err
}

// newModuleTransport returns the proxy's transport, falling back to fb.
func newModuleTransport(fb http.RoundTripper) *moduleTransport {
	return &moduleTransport{
		fallback:       fb,
		dialer:         &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		maxIdlePerHost: 64,
		idleTimeout:    90 * time.Second,
		maxHeaderBytes: 10 << 20, // http.Transport's default, which the fallback path keeps
		idle:           map[string][]*moduleConn{},
	}
}

// direct reports whether req takes the same-goroutine path: a request
// that can be replayed (so a stale connection can be retried) and that
// will not turn into a WebSocket.
func direct(req *http.Request) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		(req.Body == nil || req.Body == http.NoBody) && req.ContentLength == 0 &&
		len(req.TransferEncoding) == 0 && req.Header.Get("Upgrade") == "" && req.URL.Scheme == "http"
}

// RoundTrip implements http.RoundTripper.
func (t *moduleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !direct(req) {
		resp, err := t.fallback.RoundTrip(req)
		if err != nil && t.headerTimeout > 0 && req.Context().Err() == nil {
			// http.Transport reports its ResponseHeaderTimeout as an
			// unexported timeout error; the only other timeout it can
			// report here is a dial timeout, which is as much "the
			// module does not answer".
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("%w (waited %v): %w", errHeaderTimeout, t.headerTimeout, err)
			}
		}
		return resp, err
	}
	addr := req.URL.Host
	for attempt := 0; ; attempt++ {
		mc, reused, err := t.conn(req.Context(), addr, attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(req, mc)
		if err == nil {
			return resp, nil
		}
		if reused && attempt == 0 && staleConnError(err) && req.Context().Err() == nil {
			// The module closed this idle connection, most likely by
			// restarting, so its other idle ones are dead too: drop them
			// and retry once on a new connection.
			t.dropIdle(addr)
			continue
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
}

// exchange writes req on mc and reads the response header. On error mc is
// closed; on success the returned body owns mc.
func (t *moduleTransport) exchange(req *http.Request, mc *moduleConn) (*http.Response, error) {
	// Why a deadline on the connection for the header wait: it costs no
	// timer allocation or goroutine per request (the runtime's poller
	// keeps one timer per descriptor), unlike a context.WithTimeout.
	// Set before the AfterFunc below, so a cancellation always wins.
	if t.headerTimeout > 0 {
		_ = mc.c.SetDeadline(time.Now().Add(t.headerTimeout))
	}
	// Why a deadline and not a goroutine: setting a past deadline unblocks
	// a Read or Write in progress, and context.AfterFunc starts nothing
	// until the context is actually cancelled.
	stop := context.AfterFunc(req.Context(), func() { _ = mc.c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		mc.c.Close() // never pooled: after a header timeout the module may still answer on it
		if t.headerTimeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) && req.Context().Err() == nil {
			err = fmt.Errorf("%w (waited %v): %w", errHeaderTimeout, t.headerTimeout, err)
		}
		return nil, err
	}
	if err := req.Write(mc.bw); err != nil {
		return fail(err)
	}
	if err := mc.bw.Flush(); err != nil {
		return fail(err)
	}
	trace := httptrace.ContextClientTrace(req.Context())
	var resp *http.Response
	for n1xx := 0; ; n1xx++ {
		mc.lr.n = t.maxHeaderBytes
		r, err := http.ReadResponse(mc.br, req)
		mc.lr.n = -1
		if err != nil {
			return fail(err)
		}
		if r.StatusCode < 100 || r.StatusCode >= 200 {
			resp = r
			break
		}
		// Informational answers, as http.Transport treats them: 101 is
		// refused (no upgrade was asked for), the others (103 Early Hints)
		// go to ReverseProxy's trace hook, which relays them to the
		// client, and at most max1xx of them precede the answer.
		if r.StatusCode == http.StatusSwitchingProtocols {
			return fail(errors.New("module switched protocols on a request that asked for no upgrade"))
		}
		if n1xx >= max1xx {
			return fail(errors.New("module sent too many 1xx informational responses"))
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(r.StatusCode, textproto.MIMEHeader(r.Header)); err != nil {
				return fail(err)
			}
		}
	}
	if t.headerTimeout > 0 {
		// The body is not bounded (SSE). Clearing the deadline could undo
		// a cancellation that ran meanwhile, so that one is re-applied:
		// a cancellation after the check sets its past deadline itself.
		_ = mc.c.SetDeadline(time.Time{})
		if req.Context().Err() != nil {
			_ = mc.c.SetDeadline(time.Unix(1, 0))
		}
	}
	b := &moduleBody{t: t, ctx: req.Context(), addr: req.URL.Host, mc: mc, body: resp.Body, stop: stop, keep: !resp.Close}
	if resp.Body == http.NoBody {
		b.finish(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// staleConnError reports whether err is what writing to or reading from a
// connection the peer already closed looks like, before any response byte.
func staleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// conn returns an idle connection to addr, or dials one (always when
// fresh is set).
func (t *moduleTransport) conn(ctx context.Context, addr string, fresh bool) (*moduleConn, bool, error) {
	now := time.Now()
	t.mu.Lock()
	for list := t.idle[addr]; !fresh && len(list) > 0; list = t.idle[addr] {
		mc := list[len(list)-1]
		t.idle[addr] = list[:len(list)-1]
		if now.Sub(mc.idleSince) >= t.idleTimeout {
			mc.c.Close()
			continue
		}
		t.mu.Unlock()
		// Why: bytes waiting on an idle connection are not the answer to
		// the request about to be sent (see strayBytes); a module that
		// closed it (a restart) shows an EOF there too.
		if mc.br.Buffered() == 0 && !strayBytes(mc.c) {
			return mc, true, nil
		}
		mc.c.Close()
		t.mu.Lock()
	}
	t.mu.Unlock()
	c, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	lr := &headerLimitReader{c: c, n: -1}
	return &moduleConn{c: c, lr: lr, br: bufio.NewReaderSize(lr, 4<<10), bw: bufio.NewWriterSize(c, 4<<10)}, false, nil
}

// put keeps mc for the next request to addr, or closes it when the pool
// for addr is full. Once per idleTimeout it also closes the connections
// that sat idle longer than that, whatever their module.
//
// Why the sweep: an idle connection has no goroutine watching it, so one
// to a module that was uninstalled or moved to another port would
// otherwise hold its descriptor until the hub exits.
func (t *moduleTransport) put(addr string, mc *moduleConn) {
	now := time.Now()
	mc.idleSince = now
	var stale []*moduleConn
	t.mu.Lock()
	if now.Sub(t.swept) > t.idleTimeout {
		t.swept = now
		for a, list := range t.idle {
			kept := list[:0]
			for _, c := range list {
				if now.Sub(c.idleSince) < t.idleTimeout {
					kept = append(kept, c)
				} else {
					stale = append(stale, c)
				}
			}
			if len(kept) == 0 {
				delete(t.idle, a)
			} else {
				t.idle[a] = kept
			}
		}
	}
	if len(t.idle[addr]) < t.maxIdlePerHost {
		t.idle[addr] = append(t.idle[addr], mc)
	} else {
		stale = append(stale, mc)
	}
	t.mu.Unlock()
	for _, c := range stale {
		c.c.Close()
	}
}

// dropIdle closes every idle connection to addr.
func (t *moduleTransport) dropIdle(addr string) {
	t.mu.Lock()
	list := t.idle[addr]
	delete(t.idle, addr)
	t.mu.Unlock()
	for _, mc := range list {
		mc.c.Close()
	}
}

// CloseIdleConnections closes every idle module connection.
func (t *moduleTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*moduleConn{}
	t.mu.Unlock()
	for _, list := range idle {
		for _, mc := range list {
			mc.c.Close()
		}
	}
	if c, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// moduleBody is a response body read straight off its module connection.
// Read to its end, it hands the connection back to the pool; closed before
// that, it closes the connection (draining an unknown rest could block).
type moduleBody struct {
	t    *moduleTransport
	ctx  context.Context // the request's
	addr string
	mc   *moduleConn
	body io.ReadCloser
	stop func() bool
	keep bool // the module did not ask to close the connection

	mu   sync.Mutex // guards done
	done bool
}

// Read reads from the body.
func (b *moduleBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		b.finish(false)
		if ctxErr := b.ctx.Err(); ctxErr != nil {
			// The client went away (our cancel func set a past deadline):
			// report it as http.Transport does, so ReverseProxy treats it
			// as the client's doing and logs nothing.
			return n, ctxErr
		}
		err = fmt.Errorf("reading module response: %w", err)
	}
	return n, err
}

// Close releases the connection (see moduleBody).
func (b *moduleBody) Close() error {
	b.finish(false)
	return nil
}

// finish runs once: it pools the connection after a complete, uncancelled
// body that allows keep-alive, and closes it otherwise.
func (b *moduleBody) finish(eof bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.done = true
	// stop reports false when the cancel func already ran: the connection
	// then has a past deadline and is of no further use.
	// Bytes already buffered past the end of this answer are the module
	// writing more than its framing said (a body on a HEAD answer or a
	// 304, a short Content-Length): never the next request's answer.
	if b.stop() && eof && b.keep && b.mc.br.Buffered() == 0 {
		b.t.put(b.addr, b.mc)
		return
	}
	b.mc.c.Close()
}
