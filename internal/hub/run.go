package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/connector"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/ports"
	"github.com/openparachute/parachute/internal/ratelimit"
	"github.com/openparachute/parachute/internal/supervisor"
)

// ShutdownDeadline bounds stopping every module when the hub exits. The
// systemd unit's TimeoutStopSec sits above it.
const ShutdownDeadline = 10 * time.Second

// OpsShutdownDeadline bounds waiting for cancelled module operations
// (install, upgrade, uninstall) to roll back and return when the hub
// exits, before the modules are stopped. With ShutdownDeadline and the
// HTTP drain it stays under the unit's TimeoutStopSec (30 s).
const OpsShutdownDeadline = 5 * time.Second

// ConfigError is a configuration problem restarting cannot fix (bad PORT,
// bad bind address). The CLI exits 78 (EX_CONFIG) for it, and the unit's
// RestartPreventExitStatus=78 stops systemd from looping on it.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// RunOptions configures Run.
type RunOptions struct {
	Paths   config.Paths
	Bind    string // listen host, default 127.0.0.1
	Port    int    // listen port, default 1939
	Version string
	Source  string
	Logger  *slog.Logger
	// Output receives every module line ("[short] …"), normally stdout.
	Output io.Writer
	// Listening, if set, is called with the bound address once the HTTP
	// server accepts connections (tests use it instead of polling).
	Listening func(addr net.Addr)
}

// ParsePort validates a port given as text (PORT, --port).
func ParsePort(raw string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || p < 1 || p > 65535 {
		return 0, &ConfigError{Msg: fmt.Sprintf("PORT must be 1..65535, got %q", raw)}
	}
	return p, nil
}

// Run is `parachute serve`, read as its steps: check the options, bind
// the listener, serve HTTP (so /health answers at once), open hub.db once
// (one bounded pool for keys, tokens, accounts, sessions, OAuth and
// settings), boot every registered module in the background, load the
// signing keys and the operator token, tell the service manager it is
// ready, wait for ctx to end, then shut down: cancel and wait for module
// operations, stop every module within ShutdownDeadline, drain HTTP, and
// only then close hub.db. It returns nil on a clean stop, a *ConfigError
// for options restarting cannot fix.
func Run(ctx context.Context, o RunOptions) error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	ln, err := bind(o)
	if err != nil {
		return err
	}
	defer ln.Close()
	h := newHubProcess(o, ln)
	defer removeRunFiles(o.Paths, h.port)

	h.serve()
	// hub.db is opened once: this bounded pool serves the keys and token
	// registry, accounts and sessions, OAuth and settings. Its deferred
	// Close runs after shutdown has drained HTTP, so no handler is left
	// with a closed pool.
	db, err := hubdb.Open(ctx, o.Paths.HubDB())
	if err != nil {
		close(h.bootDone) // boot never ran; shutdown waits on it
		h.shutdown(false)
		if ctx.Err() != nil {
			return nil // stopped while starting up: a clean stop, not a failure
		}
		return fmt.Errorf("opening %s: %w", o.Paths.HubDB(), err)
	}
	defer db.Close()
	// Modules boot before the keys are loaded, but their
	// PARACHUTE_HUB_ORIGIN must already be the admin's stored choice.
	if err := h.srv.readHubOriginSetting(ctx, db); err != nil {
		h.log.Warn("could not read the hub_origin setting; modules get the configured origin", "err", err)
	}
	h.boot(ctx)
	// Cloudflare connectors `parachute expose` handed to the hub because
	// this machine has no service manager (a container): they live as
	// long as the hub does. Stopped after the modules, on every return.
	defer connector.Start(ctx, connector.Options{Root: o.Paths.Root, Output: o.Output,
		Logger: h.log.With("component", "cloudflared")})()
	store, err := openAuth(ctx, db, o.Paths, h.origins, h.log)
	if err != nil {
		h.shutdown(false)
		if ctx.Err() != nil {
			return nil // stopped while starting up: a clean stop, not a failure
		}
		return err
	}
	// The wizard's first admin gets operator.token as `auth set-password`
	// gives it, if openAuth could not write one above.
	opToken := func(ctx context.Context) (bool, error) {
		return store.EnsureOperatorToken(ctx, o.Paths.OperatorToken(), h.origins.StableIssuer())
	}
	pages, err := buildWeb(ctx, db, store, h.origins, os.Getenv, opToken, h.log)
	if err != nil {
		h.shutdown(false)
		return err
	}
	h.srv.SetWeb(pages)
	h.ready(store)
	stopWatchdog := startWatchdog(ctx, h.log)
	defer stopWatchdog()
	h.wait(ctx)
	h.shutdown(true)
	return nil
}

// withDefaults fills the defaults and refuses a bind address that is not
// an IP, then makes sure the config root exists.
func (o RunOptions) withDefaults() (RunOptions, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Bind == "" {
		o.Bind = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = config.DefaultHubPort
	}
	if net.ParseIP(o.Bind) == nil && o.Bind != "localhost" {
		return o, &ConfigError{Msg: fmt.Sprintf("bind address %q is not an IP address (PARACHUTE_BIND_HOST / --bind)", o.Bind)}
	}
	return o, o.Paths.EnsureRoot()
}

// bind opens the hub's listener, saying who holds the port when it is
// taken.
func bind(o RunOptions) (net.Listener, error) {
	addr := net.JoinHostPort(o.Bind, strconv.Itoa(o.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("port %d on %s is in use by %s — stop it, or run the hub on another port with --port", o.Port, o.Bind, ports.Describe(o.Port))
		}
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// hubProcess is one `parachute serve` between bind and return: the parts
// Run wires together. Run's goroutine owns it; the serve and boot
// goroutines report through serveErr and bootDone.
type hubProcess struct {
	o       RunOptions
	log     *slog.Logger
	ln      net.Listener
	port    int
	origins Origins
	sup     *supervisor.Supervisor
	srv     *Server
	httpSrv *http.Server

	serveErr chan error    // the HTTP server's exit, once
	bootDone chan struct{} // closed when boot has returned
}

// newHubProcess records the bound port for the CLI and builds the
// supervisor, the API server and the HTTP server around ln.
func newHubProcess(o RunOptions, ln net.Listener) *hubProcess {
	log := o.Logger
	port := ln.Addr().(*net.TCPAddr).Port
	if err := writeRunFiles(o.Paths, port); err != nil {
		log.Warn("could not record the hub port", "err", err)
	}
	origins := OriginsFromEnv(port)
	// hub_settings.hub_origin, loaded once hub.db is open and changed by
	// PUT /api/settings/hub-origin; shared with the Server so this
	// process's issuer (operator token, log lines) sees it too.
	hubOrigin := &originSetting{}
	origins.Setting = hubOrigin.get
	// The exposed origin follows expose-state.json as the CLI changes it.
	exposure := state.NewWatcher(o.Paths.Root)
	origins.Exposed, origins.Override = exposure.Origins, exposure.Override
	// Under systemd with Delegate=yes every module gets its own cgroup;
	// anywhere else (nil) modules run in process groups.
	cgroups, err := supervisor.DelegatedCgroups(log.With("component", "supervisor"))
	if err != nil {
		log.Warn("cannot use the delegated cgroup; modules run in process groups only", "err", err)
	} else if cgroups != nil {
		log.Info("modules run in their own cgroups", "cgroup", cgroups.Root())
	}
	sup := supervisor.New(supervisor.Options{
		Logger:  log.With("component", "supervisor"),
		Output:  o.Output,
		LogDir:  o.Paths.ModuleLogDir,
		RunDir:  o.Paths.ModuleRunDir,
		Cgroups: cgroups,
	})
	trust, err := ratelimit.KeyerFromEnv(os.Getenv)
	if err != nil {
		// Trusting nobody is the safe fallback: modules then see the
		// peer address, never a header a client could have written.
		log.Warn("ignoring the trusted-proxy settings; forwarding headers from every peer are dropped", "err", err)
		trust = nil
	}
	srv := New(Options{Paths: o.Paths, Supervisor: sup, Origins: origins,
		Version: o.Version, Source: o.Source, Logger: log, TrustedProxies: trust, hubOrigin: hubOrigin})
	return &hubProcess{o: o, log: log, ln: ln, port: port, origins: origins, sup: sup, srv: srv,
		httpSrv: NewHTTPServer(srv), serveErr: make(chan error, 1), bootDone: make(chan struct{})}
}

// serve starts the HTTP server. Deadlines and the connection cap
// (limits.go) apply on every bind address, the OCI image's 0.0.0.0
// included.
func (h *hubProcess) serve() {
	go func() { h.serveErr <- h.httpSrv.Serve(NewCapListener(h.ln, ConnLimitFromEnv(h.log), h.log)) }()
}

// boot starts every registered module in the background: modules need no
// keys, so they come up while hub.db opens.
func (h *hubProcess) boot(ctx context.Context) {
	go func() {
		defer close(h.bootDone)
		h.srv.Boot(ctx)
		_, _ = daemon.SdNotify(false, "STATUS="+h.srv.statusLine())
	}()
}

// ready opens the bearer routes and tells the service manager the hub is
// ready: as soon as /health answers, while modules may still be coming up
// (/api/ready reports them).
func (h *hubProcess) ready(store *auth.Store) {
	h.srv.SetAuth(store)
	h.log.Info("parachute serve: listening", "url", "http://"+h.ln.Addr().String(), "root", h.o.Paths.Root,
		"issuer", h.origins.Issuer(), "version", h.o.Version)
	if h.o.Listening != nil {
		h.o.Listening(h.ln.Addr())
	}
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReady+"\nSTATUS=booting modules")
}

// wait returns when ctx ends or the HTTP server fails.
func (h *hubProcess) wait(ctx context.Context) {
	select {
	case <-ctx.Done():
	case err := <-h.serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("http server failed", "err", err)
		}
	}
}

// shutdown stops the hub's work in dependency order. Operations first: a
// cancelled install rolls back while its module's supervisor still
// answers, and none is left writing into the root after Run returns. Then
// the modules, then HTTP: drained when the hub was serving (graceful),
// closed when it never got that far.
func (h *hubProcess) shutdown(graceful bool) {
	if graceful {
		_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	}
	octx, ocancel := context.WithTimeout(context.Background(), OpsShutdownDeadline)
	defer ocancel()
	if err := h.srv.ShutdownOps(octx); err != nil {
		h.log.Warn("module operations did not finish", "err", err)
	}
	if graceful {
		h.log.Info("parachute serve: stopping modules", "deadline", ShutdownDeadline)
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownDeadline)
	defer cancel()
	if err := h.sup.Shutdown(sctx); err != nil && graceful {
		h.log.Warn("module shutdown", "err", err)
	}
	<-h.bootDone
	if !graceful {
		_ = h.httpSrv.Close()
		return
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer hcancel()
	_ = h.httpSrv.Shutdown(hctx)
	h.log.Info("parachute serve: stopped")
}
