package hub

import (
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
		if r.URL.Path == "/" && wantsHTML(r) {
			s.handleHubPage(w, r) // a browser gets the discovery page, as in the reference
			return
		}
		if r.URL.Path == "/" {
			writeJSON(w, http.StatusOK, map[string]any{"service": "parachute-hub", "version": s.version,
				"discovery": "/.well-known/parachute.json", "health": "/health"})
			return
		}
		writeErr(w, apiErr(http.StatusNotFound, api.CodeNotFound,
			"no module is mounted at %s — `parachute status` lists the installed modules and their paths", r.URL.Path))
		return
	}
	w, done := s.streamDeadlines(w, r) // uploads, SSE and WebSockets may run long
	defer done()
	target := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(row.Port)}
	strip := row.StripPrefix != nil && *row.StripPrefix
	short := manifest.ShortName(row.Name)
	rp := &httputil.ReverseProxy{
		Transport:  proxyTransport,
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

// proxyTransport carries every proxied request to a module on loopback:
// body-less GET and HEAD on the caller's goroutine (proxytransport.go), the
// rest through fallbackTransport.
var proxyTransport = newModuleTransport(fallbackTransport)

// fallbackTransport carries the proxied requests moduleTransport does not
// take itself: bodies, WebSocket upgrades, other methods.
// Why not http.DefaultTransport: it keeps only 2 idle connections per
// module, so a few concurrent clients would open and close a connection
// per request (measured: a fifth of the direct throughput), it consults
// HTTP_PROXY, and it adds its own gzip negotiation; a module should see the
// client's Accept-Encoding and answer in kind.
var fallbackTransport = &http.Transport{
	Proxy:                 nil,
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:          256,
	MaxIdleConnsPerHost:   64,
	IdleConnTimeout:       90 * time.Second,
	DisableCompression:    true,
	ExpectContinueTimeout: time.Second,
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
	st, ok := s.sup.Get(short)
	transient := ok && (st.Status == supervisor.StatusStarting || st.Status == supervisor.StatusRestarting ||
		(st.Status == supervisor.StatusRunning && st.StartedAt != nil && s.now().Sub(*st.StartedAt) < bootWindow))
	if wantsHTML(r) {
		writeProxyPage(w, transient, short)
		return
	}
	if transient {
		w.Header().Set("Retry-After", "2")
		e := apiErr(http.StatusServiceUnavailable, api.CodeUpstreamStarting, "%s is starting; retry shortly", short)
		e.Service, e.RetryAfterMS = short, int64(2*time.Second/time.Millisecond)
		writeErr(w, e)
		return
	}
	e := apiErr(http.StatusBadGateway, api.CodeUpstreamUnreachable,
		"%s is not reachable: %v — see `parachute status` and `parachute logs %s`", short, err, short)
	e.Service = short
	writeErr(w, e)
}
