package hub

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/mounts"
	"github.com/openparachute/parachute/internal/setupgate"
	"github.com/openparachute/parachute/internal/supervisor"
)

// handleProxy forwards a request to the module whose mount is the longest
// prefix of the path (services.json is cached and re-read when it changes,
// so a newly installed module is reachable at once; routes.go). Rows the
// mount rules refuse are never candidates, and a hub-owned path is never
// forwarded whatever services.json says. A module marked
// publicExposure:"loopback" does not exist for a request that came through
// an exposure layer (forward.go). Anything else is a 404.
func (s *Server) handleProxy(w http.ResponseWriter, r *http.Request) {
	f := s.table.get()
	row, mount, ok := matchMount(f, r.URL.Path)
	if ok && mounts.HubOwned(r.URL.Path) {
		// Why a second check: the mux hands every path it has no route
		// for (an unknown /oauth/x, /.well-known/x) to the proxy; such a
		// request must never carry the operator's cookies to a module.
		ok = false
	}
	if ok && row.PublicExposure == manifest.ExposureLoopback && viaExposure(r) {
		// 404, not 403, as in the reference: from outside, the module is
		// not there at all.
		ok = false
	}
	if !ok {
		if r.URL.Path == "/" && setupgate.WantsHTML(r.Header.Get("Accept")) {
			s.handleHubPage(w, r) // a browser gets the discovery page, as in the reference
			return
		}
		if r.URL.Path == "/" {
			api.WriteJSON(w, http.StatusOK, map[string]any{"service": "parachute-hub", "version": s.version,
				"discovery": "/.well-known/parachute.json", "health": "/health"})
			return
		}
		writeErr(w, api.Errorf(http.StatusNotFound, api.CodeNotFound,
			"no module is mounted at %s — `parachute status` lists the installed modules and their paths", r.URL.Path))
		return
	}
	w, done := s.streamDeadlines(w, r) // uploads, SSE and WebSockets may run long
	defer done()
	target := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(row.Port)}
	strip := row.StripPrefix != nil && *row.StripPrefix
	short := manifest.ShortName(row.Name)
	rp := &httputil.ReverseProxy{
		Transport:  proxyTransportFor(row.Supervise.ResponseHeaderTimeout(s.limits.ProxyHeaderTimeout)),
		BufferPool: proxyBuffers,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			if strip {
				p := strings.TrimPrefix(pr.In.URL.Path, mount)
				if p == "" || p[0] != '/' {
					p = "/" + p
				}
				pr.Out.URL.Path, pr.Out.URL.RawPath = p, ""
			}
			s.forwardHeaders(pr)
		},
		ModifyResponse: dropHubSetCookies,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			if slowBodyError(w, r, short) {
				return
			}
			s.proxyError(w, r, short, err)
		},
	}
	rp.ServeHTTP(w, r)
}

// proxyTransport carries every proxied request to a module on loopback
// with the default header timeout: body-less GET and HEAD on the caller's
// goroutine (proxytransport.go), the rest through an http.Transport. Built
// on first use, not at init: every exec of the binary (`status` too) would
// pay for it (cmd/parachute TestInitCost).
var proxyTransport = sync.OnceValue(func() *moduleTransport {
	return newProxyTransport(DefaultLimits.ProxyHeaderTimeout)
})

// otherTransports holds a transport per header timeout other than the
// default one: a module's supervise.responseHeaderTimeoutSeconds (whole
// seconds, at most an hour, so the map stays small) or a test's Limits.
var otherTransports struct {
	mu sync.Mutex
	m  map[time.Duration]*moduleTransport
}

// proxyTransportFor returns the shared transport whose module response
// header wait is bounded by d. The default needs no lock or map lookup.
func proxyTransportFor(d time.Duration) *moduleTransport {
	if def := proxyTransport(); d == def.headerTimeout {
		return def
	}
	otherTransports.mu.Lock()
	defer otherTransports.mu.Unlock()
	if otherTransports.m == nil {
		otherTransports.m = map[time.Duration]*moduleTransport{}
	}
	tr := otherTransports.m[d]
	if tr == nil {
		tr = newProxyTransport(d)
		otherTransports.m[d] = tr
	}
	return tr
}

// newProxyTransport returns a module transport bounding the wait for
// response headers by headerTimeout, on both of its paths.
//
// Why a bound at all: a module that accepts the connection and never
// answers would otherwise hold the client's request, its goroutine, its
// descriptor and one of the hub's capped connections (limits.go) until
// the client gives up; a wedged module plus patient clients could fill
// the cap. Only headers are bounded: streams send them at once.
//
// Why the fallback is not http.DefaultTransport: it keeps only 2 idle
// connections per module, so a few concurrent clients would open and
// close a connection per request (measured: a fifth of the direct
// throughput), it consults HTTP_PROXY, and it adds its own gzip
// negotiation; a module should see the client's Accept-Encoding and answer
// in kind.
func newProxyTransport(headerTimeout time.Duration) *moduleTransport {
	fb := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: headerTimeout, // counted from the end of the request body
	}
	t := newModuleTransport(fb)
	t.headerTimeout = headerTimeout
	return t
}

// proxyBuffers recycles the buffers ReverseProxy copies response bodies
// through. Why: without a pool it allocates 32 KiB per request, which on a
// small GET was the largest single cost of the proxy path (a large
// allocation, zeroed, then garbage).
var proxyBuffers = &bufferPool{}

// bufferPool is an httputil.BufferPool of 32 KiB buffers.
type bufferPool struct{ p sync.Pool }

// Get returns a 32 KiB buffer.
func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

// Put returns buf to the pool.
func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != 32<<10 {
		return
	}
	buf = buf[:cap(buf)]
	b.p.Put(&buf)
}

// matchMount finds the row with the longest mount that equals the path or
// is a prefix of it followed by '/'.
func matchMount(f *manifest.File, path string) (manifest.Service, string, bool) {
	var best manifest.Service
	bestMount, found := "", false
	for _, row := range f.Services {
		for _, m := range row.Paths {
			m = strings.TrimRight(m, "/")
			if m == "" || m == mounts.Shared {
				continue
			}
			if (path == m || strings.HasPrefix(path, m+"/")) && len(m) > len(bestMount) {
				best, bestMount, found = row, m, true
			}
		}
	}
	return best, bestMount, found
}

// proxyError answers 503 while a module is starting (worth a retry) and 502
// when it is down for good: a small HTML page to a browser (pages.go), the
// JSON error to everyone else.
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, short string, err error) {
	if errors.Is(err, errHeaderTimeout) {
		s.proxyHeaderTimeout(w, r, short, err)
		return
	}
	st, ok := s.sup.Get(short)
	transient := ok && (st.Status == supervisor.StatusStarting || st.Status == supervisor.StatusRestarting ||
		(st.Status == supervisor.StatusRunning && st.StartedAt != nil && s.now().Sub(*st.StartedAt) < bootWindow))
	if setupgate.WantsHTML(r.Header.Get("Accept")) {
		writeProxyPage(w, transient, short)
		return
	}
	if transient {
		w.Header().Set("Retry-After", "2")
		e := api.Errorf(http.StatusServiceUnavailable, api.CodeUpstreamStarting, "%s is starting; retry shortly", short)
		e.Service, e.RetryAfterMS = short, int64(2*time.Second/time.Millisecond)
		writeErr(w, e)
		return
	}
	e := api.Errorf(http.StatusBadGateway, api.CodeUpstreamUnreachable,
		"%s is not reachable: %v — see `parachute status` and `parachute logs %s`", short, err, short)
	e.Service = short
	writeErr(w, e)
}

// hangLogEvery is how often a module's header timeouts are logged at most.
const hangLogEvery = time.Minute

// hangLog remembers when each module's header timeout was last logged.
type hangLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether a header timeout of short should be logged at now,
// and if so records it.
func (l *hangLog) due(short string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[short]; ok && now.Sub(t) < hangLogEvery {
		return false
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	l.last[short] = now
	return true
}

// proxyHeaderTimeout answers 504 for a module that sent no response headers
// in time: the "unreachable" page to a browser, the JSON error to everyone
// else. It logs at most once a minute per module, so a wedged module
// under load cannot flood the log.
func (s *Server) proxyHeaderTimeout(w http.ResponseWriter, r *http.Request, short string, err error) {
	if s.hangs.due(short, s.now()) {
		s.log.Warn("module sent no response headers in time; answering 504 (further ones are not logged for a minute)",
			"module", short, "path", r.URL.Path, "err", err)
	}
	if setupgate.WantsHTML(r.Header.Get("Accept")) {
		writeProxyPageCode(w, http.StatusGatewayTimeout, false, short)
		return
	}
	e := api.Errorf(http.StatusGatewayTimeout, api.CodeUpstreamUnreachable,
		"%s did not answer in time: %v — see `parachute logs %s`, or `parachute restart %s` if it is stuck",
		short, err, short, short)
	e.Service = short
	writeErr(w, e)
}
