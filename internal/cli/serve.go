package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/buildinfo"
	"github.com/openparachute/parachute/internal/hub"
)

func serveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the hub in the foreground: HTTP server + module supervisor",
		Description: `Binds 127.0.0.1:1939 (PORT / --port, PARACHUTE_BIND_HOST / --bind), then starts
every module in services.json and keeps them running. SIGTERM, SIGINT or SIGHUP stops
every module and exits 0. This is what the systemd unit, the launchd job and
the container image run.

Exit codes: 0 stopped cleanly, 1 failed (e.g. port in use), 78 invalid
configuration (bad PORT or bind address; the unit does not restart on it).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "port", Usage: "port to listen on (default: $PORT, else 1939)"},
			&cli.StringFlag{Name: "bind", Usage: "address to listen on (default: $PARACHUTE_BIND_HOST, else 127.0.0.1)"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fail(ExitUsage, "parachute serve: unexpected argument %q\nusage: parachute serve [--port N] [--bind ADDR]", c.Args().First())
			}
			paths, err := e.paths()
			if err != nil {
				return rootErr(err)
			}
			portRaw := c.String("port")
			if portRaw == "" {
				portRaw = os.Getenv("PORT")
			}
			port := 0
			if portRaw != "" {
				if port, err = hub.ParsePort(portRaw); err != nil {
					return fail(ExitConfig, "parachute serve: %v", err)
				}
			}
			bind := c.String("bind")
			if bind == "" {
				bind = os.Getenv("PARACHUTE_BIND_HOST")
			}
			log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: logLevel()}))
			if err := ensureTmpdir(os.Getenv("TMPDIR")); err != nil {
				log.Warn("modules may fail to install or write temporary files; create TMPDIR or unset it", "err", err)
			}
			// SIGHUP too: a closed terminal must stop modules gracefully, not
			// leave them to the parent-death SIGKILL.
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
			defer stop()
			err = hub.Run(ctx, hub.RunOptions{
				Paths: paths, Bind: bind, Port: port, Version: buildinfo.Get().Version,
				Source: installSource(), Logger: log, Output: e.stdout,
			})
			var ce *hub.ConfigError
			if errors.As(err, &ce) {
				return fail(ExitConfig, "parachute serve: %v", err)
			}
			if err != nil {
				return fail(ExitFail, "parachute serve: %v", err)
			}
			return nil
		},
	}
}

// logLevel reads PARACHUTE_LOG_LEVEL (debug, info, warn, error).
func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("PARACHUTE_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// installSource says how this binary was installed, for /api/hub and status.
func installSource() string { return hubSource(context.Background()) }
