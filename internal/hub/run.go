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
	"github.com/openparachute/parachute/internal/ports"
	"github.com/openparachute/parachute/internal/secfile"
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

// Run is `parachute serve`: bind the HTTP listener first, then boot every
// registered module concurrently, tell the service manager it is ready, and
// serve until ctx is cancelled; then stop every module within
// ShutdownDeadline and return nil.
func Run(ctx context.Context, o RunOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Bind == "" {
		o.Bind = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = config.DefaultHubPort
	}
	if net.ParseIP(o.Bind) == nil && o.Bind != "localhost" {
		return &ConfigError{Msg: fmt.Sprintf("bind address %q is not an IP address (PARACHUTE_BIND_HOST / --bind)", o.Bind)}
	}
	if err := o.Paths.EnsureRoot(); err != nil {
		return err
	}

	addr := net.JoinHostPort(o.Bind, strconv.Itoa(o.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("port %d on %s is in use by %s — stop it, or run the hub on another port with --port", o.Port, o.Bind, ports.Describe(o.Port))
		}
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	origins := OriginsFromEnv(port)
	if err := writeRunFiles(o.Paths, port); err != nil {
		log.Warn("could not record the hub port", "err", err)
	}
	defer removeRunFiles(o.Paths, port)

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
	srv := New(Options{Paths: o.Paths, Supervisor: sup, Origins: origins,
		Version: o.Version, Source: o.Source, Logger: log})
	// Deadlines and the connection cap (limits.go) apply on every bind
	// address, the OCI image's 0.0.0.0 included.
	httpSrv := NewHTTPServer(srv)
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(NewCapListener(ln, ConnLimitFromEnv(log), log)) }()

	// Modules need no keys: boot them while hub.db opens.
	bootDone := make(chan struct{})
	go func() {
		defer close(bootDone)
		srv.Boot(ctx)
		_, _ = daemon.SdNotify(false, "STATUS="+srv.statusLine())
	}()

	store, err := openAuth(ctx, o.Paths, origins, log)
	if err != nil {
		octx, ocancel := context.WithTimeout(context.Background(), OpsShutdownDeadline)
		defer ocancel()
		_ = srv.ShutdownOps(octx)
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownDeadline)
		defer cancel()
		_ = sup.Shutdown(sctx)
		<-bootDone
		_ = httpSrv.Close()
		if ctx.Err() != nil {
			return nil // stopped while starting up: a clean stop, not a failure
		}
		return err
	}
	defer store.Close()
	srv.SetAuth(store)

	log.Info("parachute serve: listening", "url", "http://"+ln.Addr().String(), "root", o.Paths.Root,
		"issuer", origins.Issuer(), "version", o.Version)
	if o.Listening != nil {
		o.Listening(ln.Addr())
	}
	// Ready as soon as /health answers; modules come up in the background
	// and /api/ready reports them.
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReady+"\nSTATUS=booting modules")
	stopWatchdog := startWatchdog(ctx, log)
	defer stopWatchdog()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server failed", "err", err)
		}
	}
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	// Operations first: a cancelled install rolls back while its module's
	// supervisor still answers, and none is left writing into the root
	// after Run returns.
	octx, ocancel := context.WithTimeout(context.Background(), OpsShutdownDeadline)
	defer ocancel()
	if err := srv.ShutdownOps(octx); err != nil {
		log.Warn("module operations did not finish", "err", err)
	}
	log.Info("parachute serve: stopping modules", "deadline", ShutdownDeadline)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownDeadline)
	defer cancel()
	if err := sup.Shutdown(sctx); err != nil {
		log.Warn("module shutdown", "err", err)
	}
	<-bootDone
	hctx, hcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer hcancel()
	_ = httpSrv.Shutdown(hctx)
	log.Info("parachute serve: stopped")
	return nil
}

// statusLine summarises module states for systemd's STATUS=.
func (s *Server) statusLine() string {
	counts := map[supervisor.Status]int{}
	list := s.sup.List()
	for _, st := range list {
		counts[st.Status]++
	}
	return fmt.Sprintf("%d module(s): %d running, %d crashed, %d stopped", len(list),
		counts[supervisor.StatusRunning], counts[supervisor.StatusCrashed], counts[supervisor.StatusStopped])
}

// startWatchdog pings systemd's watchdog at half its interval while the
// process runs. It returns a stop function.
func startWatchdog(ctx context.Context, log *slog.Logger) func() {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			}
		}
	}()
	log.Debug("systemd watchdog enabled", "interval", interval)
	return cancel
}

// writeRunFiles records the bound port so the CLI finds the hub. It writes
// no hub.pid: that file is the legacy detached hub's, and migrate treats a
// live pid in it as a process to stop. The port file is run-time state that
// a crash makes stale anyway, so it is renamed into place (never torn) but
// not fsynced: start-up does not wait for the disk.
func writeRunFiles(p config.Paths, port int) error {
	// In a root shared with a group (the system package's 0750), the
	// group's operators must read the port too.
	mode := os.FileMode(0o700)
	if groupShared(p.Root) {
		mode = 0o750
	}
	if err := os.MkdirAll(p.HubRunDir(), mode); err != nil {
		return err
	}
	tmp := p.HubPortFile() + ".tmp-" + strconv.Itoa(os.Getpid())
	// Why remove, then O_EXCL through secfile: the temp name is
	// predictable, and writing it by path would follow a link planted
	// there and truncate its target. Removing unlinks a leftover (or a
	// link), never what a link points at.
	_ = os.Remove(tmp)
	f, err := secfile.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(port) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p.HubPortFile()); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// removeRunFiles removes the port file if it still names this hub's port (a
// newer hub may have replaced it).
func removeRunFiles(p config.Paths, port int) {
	if b, err := os.ReadFile(p.HubPortFile()); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(port) {
		os.Remove(p.HubPortFile())
	}
}

// shareTokenWithGroup makes operator.token readable by the config root's
// group when the root is deliberately shared with a group and nobody else
// (mode 0750 or 0770: the system package makes /var/lib/parachute 0750
// parachute:parachute), so operators in that group use the CLI without
// sudo. Any other root (0700, or a loose 0755) keeps the token 0600. A
// token that is a link or not this user's file is refused and left as it is
// (see auth.ShareTokenWithGroup); the error says so.
func shareTokenWithGroup(p config.Paths) error {
	_, err := auth.ShareTokenWithGroup(p.OperatorToken(), p.Root)
	return err
}

// openAuth opens hub.db, makes sure the signing key and the operator token
// exist, and shares the token with the root's group when the root is shared.
func openAuth(ctx context.Context, p config.Paths, origins Origins, log *slog.Logger) (*auth.Store, error) {
	store, err := auth.Open(p.HubDB())
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p.HubDB(), err)
	}
	if _, err := store.EnsureSigningKey(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("ensuring the hub signing key in %s: %w", p.HubDB(), err)
	}
	if created, err := store.EnsureOperatorToken(ctx, p.OperatorToken(), origins.Issuer()); err != nil {
		log.Warn("could not write the operator token", "path", p.OperatorToken(), "err", err)
	} else if created {
		log.Info("minted the operator token", "path", p.OperatorToken())
	}
	if err := shareTokenWithGroup(p); err != nil {
		log.Error("operator token not shared with the config root's group", "err", err)
	} else if err := secfile.Check(p.OperatorToken()); err != nil {
		// Not fatal to the hub, but no CLI verb will read such a token.
		log.Error("operator token unusable", "err", err)
	}
	return store, nil
}

// groupShared reports whether dir is shared with its group and nobody else
// (mode 0750 or 0770).
func groupShared(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.Mode().Perm()&0o050 == 0o050 && fi.Mode().Perm()&0o007 == 0
}
