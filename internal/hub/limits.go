package hub

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openparachute/parachute/internal/modops"
)

// Why these limits exist: a client that completes its headers and then
// sends one body byte every few seconds used to hold a connection (and a
// file descriptor) forever. 20 000 of them exhausted the hub's descriptors:
// accept4 failed with EMFILE and /health stopped answering. The defence is
// in three layers, all applied by `parachute serve` whatever it binds
// (127.0.0.1 on a host, 0.0.0.0 in the OCI image):
//
//  1. Deadlines on every connection (NewHTTPServer, Limits): the header phase,
//     the whole request read, the response write and idle keep-alives.
//     Only the two routes that stream (module logs with ?follow and the
//     module proxy) lift them, and replace them with progress deadlines
//     (deadlines.go).
//  2. Request bodies of API routes are size-capped (api.DecodeJSON).
//  3. A cap on concurrent connections (capListener), so whatever slips
//     through the deadlines cannot pile up descriptors; connections over
//     the cap are closed at once, never queued. A small reserve above the
//     cap is kept for clients on 127.0.0.1 / ::1, so the CLI, a container
//     HEALTHCHECK and the service manager's probes still reach /health
//     while remote clients hold every general slot.
const (
	// maxHeaderBytes caps request headers (net/http's default is 1 MiB).
	maxHeaderBytes = 64 << 10

	// DefaultMaxConns is the connection cap when the descriptor limit
	// allows it; PARACHUTE_MAX_CONNS overrides it.
	DefaultMaxConns = 1024
	// loopbackReserve is how many connections from 127.0.0.1 / ::1 are
	// admitted beyond the cap.
	loopbackReserve = 16
	// fdHeadroom is the descriptors kept out of the cap for everything
	// else the hub holds open: module log files and pipes, hub.db, the
	// listener, upgrade helpers.
	fdHeadroom = 256
	// minMaxConns is the smallest cap ever used, however low the
	// descriptor limit.
	minMaxConns = 16
)

// Limits are the deadlines of the hub's HTTP server. Zero fields take the
// values of DefaultLimits; tests shorten them.
type Limits struct {
	// ReadHeaderTimeout bounds the header phase of every request,
	// streaming routes included (slow-loris headers).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body, on
	// every route that does not stream. API bodies are small JSON.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response on routes that neither
	// stream nor answer after a long operation (LongWriteTimeout).
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout time.Duration
	// LongWriteTimeout is the write deadline of the routes that answer
	// after a synchronous start, stop or restart (bounded by opTimeout).
	LongWriteTimeout time.Duration
	// StreamWriteIdle bounds each write of a streamed response (log
	// follow, the module proxy): a client that stops reading is cut off,
	// one that reads slowly is not.
	StreamWriteIdle time.Duration
	// ProxyBodyGrace and ProxyMinBodyRate set the progress deadline of a
	// request body streamed to a module: after the grace period the
	// client must have sent at least ProxyMinBodyRate bytes a second on
	// average (Kestrel's MinRequestBodyDataRate). An upload over a poor
	// link passes; one byte every few seconds does not.
	ProxyBodyGrace   time.Duration
	ProxyMinBodyRate int64
	// ProxyHeaderTimeout bounds the wait for a module's response headers
	// (not its body); a module that does not answer in time gets 504.
	ProxyHeaderTimeout time.Duration
}

// DefaultLimits are the limits of `parachute serve`.
var DefaultLimits = Limits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       15 * time.Second,
	WriteTimeout:      60 * time.Second,
	// 255 s is the reference hub's value (Bun's maximum): edge proxies
	// (Fly, Render) keep idle upstream connections for a long time, and a
	// hub that closed first would race them into 502s. The connection cap
	// bounds what idle connections can hold.
	IdleTimeout:      255 * time.Second,
	LongWriteTimeout: modops.OpTimeout + 30*time.Second,
	StreamWriteIdle:  60 * time.Second,
	ProxyBodyGrace:   10 * time.Second,
	ProxyMinBodyRate: 256,
	// Long-polls that hold their headers back longer need a module
	// setting (README "Per-module supervision settings").
	ProxyHeaderTimeout: 60 * time.Second,
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	l.ReadHeaderTimeout = pick(l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	l.ReadTimeout = pick(l.ReadTimeout, d.ReadTimeout)
	l.WriteTimeout = pick(l.WriteTimeout, d.WriteTimeout)
	l.IdleTimeout = pick(l.IdleTimeout, d.IdleTimeout)
	l.LongWriteTimeout = pick(l.LongWriteTimeout, d.LongWriteTimeout)
	l.StreamWriteIdle = pick(l.StreamWriteIdle, d.StreamWriteIdle)
	l.ProxyBodyGrace = pick(l.ProxyBodyGrace, d.ProxyBodyGrace)
	l.ProxyHeaderTimeout = pick(l.ProxyHeaderTimeout, d.ProxyHeaderTimeout)
	if l.ProxyMinBodyRate <= 0 {
		l.ProxyMinBodyRate = d.ProxyMinBodyRate
	}
	return l
}

// NewHTTPServer builds the http.Server that serves s, with s's limits.
// Serve it on a listener from NewCapListener.
func NewHTTPServer(s *Server) *http.Server {
	l := s.limits
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// net/http's own errors ("http: Accept error: too many open
		// files", handler panics) go to the hub's log, not bare stderr.
		ErrorLog: slog.NewLogLogger(s.log.With("component", "http").Handler(), slog.LevelWarn),
	}
}

// maxConns picks the connection cap: override when positive, else
// DefaultMaxConns, lowered so that every admitted connection can hold two
// descriptors (a proxied request has one to the client and one to the
// module) and fdHeadroom stays free. nofile is RLIMIT_NOFILE's soft limit
// (Go raises it to the hard limit at start-up); 0 means unknown.
func maxConns(nofile uint64, override int) int {
	if override > 0 {
		return override
	}
	n := DefaultMaxConns
	if nofile > 0 && nofile < unix.RLIM_INFINITY {
		byFD := (int64(nofile) - fdHeadroom - loopbackReserve*2) / 2
		if byFD < int64(n) {
			n = int(byFD)
		}
	}
	return max(n, minMaxConns)
}

// ConnLimitFromEnv reads the descriptor limit and PARACHUTE_MAX_CONNS and
// returns the cap to use.
func ConnLimitFromEnv(log *slog.Logger) int {
	override := 0
	if v := strings.TrimSpace(os.Getenv("PARACHUTE_MAX_CONNS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			log.Warn("ignoring PARACHUTE_MAX_CONNS: not a positive integer", "value", v)
		} else {
			override = n
		}
	}
	var rl unix.Rlimit
	nofile := uint64(0)
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
		nofile = uint64(rl.Cur)
	}
	return maxConns(nofile, override)
}

// capListener admits at most max connections at a time, plus reserve more
// from the hub's own loopback addresses. A connection over the cap is
// closed as soon as it is accepted: queueing it (as netutil.LimitListener
// does) would leave it in the kernel's accept backlog, where a flood fills
// the backlog and locks /health out too.
type capListener struct {
	net.Listener
	max, reserve int
	log          *slog.Logger

	mu       sync.Mutex // guards the two counts that follow
	general  int        // admitted connections counted against max
	reserved int        // admitted connections counted against reserve

	rejected atomic.Int64 // connections closed for being over the cap
	lastWarn atomic.Int64 // unix nanos of the last "over the cap" warning
}

// NewCapListener wraps ln with a connection cap of max (and the loopback
// reserve). log receives a warning at most once a minute while connections
// are being refused.
func NewCapListener(ln net.Listener, max int, log *slog.Logger) net.Listener {
	return newCapListener(ln, max, log)
}

func newCapListener(ln net.Listener, max int, log *slog.Logger) *capListener {
	return &capListener{Listener: ln, max: max, reserve: loopbackReserve, log: log}
}

// Accept returns the next admitted connection; connections over the cap
// are closed without a reply.
func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if release, ok := l.admit(c.RemoteAddr()); ok {
			return &cappedConn{Conn: c, release: release}, nil
		}
		c.Close()
		l.noteRejected()
	}
}

// admit counts a new connection from remote against the cap or the
// reserve, and returns the function that gives its slot back.
func (l *capListener) admit(remote net.Addr) (func(), bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.general < l.max {
		l.general++
		return func() { l.mu.Lock(); l.general--; l.mu.Unlock() }, true
	}
	if l.reserved < l.reserve && ownLoopback(remote) {
		l.reserved++
		return func() { l.mu.Lock(); l.reserved--; l.mu.Unlock() }, true
	}
	return nil, false
}

// open reports how many admitted connections are open.
func (l *capListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.general + l.reserved
}

func (l *capListener) noteRejected() {
	n := l.rejected.Add(1)
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(time.Minute) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("refusing connections: the hub is at its connection cap — raise PARACHUTE_MAX_CONNS (and the service's LimitNOFILE) if this load is legitimate",
		"cap", l.max, "refused_total", n)
}

// ownLoopback reports whether addr is 127.0.0.1 or ::1 exactly: where the
// CLI, a container's HEALTHCHECK and a service manager's probes connect
// from. Traffic relayed into a container (docker-proxy, Fly's proxy) comes
// from a bridge or private address, and TCP from the network cannot carry
// a loopback source, so remote clients never draw on the reserve.
func ownLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	return ip == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || ip == netip.IPv6Loopback()
}

// cappedConn gives its slot back exactly once when closed.
type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and frees its slot.
func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
