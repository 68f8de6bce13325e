package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/hubclient"
)

// healthCommand is `parachute health`: one GET of the hub's /health, exit
// 0 when it answers "ok", 1 otherwise. It exists for probes that have only
// this binary, such as the container image's HEALTHCHECK (the image has
// no curl or shell); `status` is the command for people.
func healthCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "health",
		Usage: "probe the hub's /health once; exit 0 when it is healthy, 1 when not (for container health checks)",
		Description: "Asks the hub of this config root (PARACHUTE_HUB_URL, else the port in run/hub.port,\n" +
			"else 1939) for /health and prints one line. No token is needed.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Value: 4 * time.Second, Usage: "give up after this long"},
			&cli.IntFlag{Name: "port", Usage: "probe 127.0.0.1:`PORT` instead of the hub this config root names"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fail(ExitUsage, "parachute health: takes no arguments. Run `parachute health --help` for usage.")
			}
			if c.Duration("timeout") <= 0 {
				return fail(ExitUsage, "parachute health: --timeout must be positive, e.g. --timeout 4s")
			}
			return e.health(c.Context, c.Int("port"), c.Duration("timeout"))
		},
	}
}

func (e *env) health(ctx context.Context, port int, timeout time.Duration) error {
	base, from := "", ""
	if port > 0 {
		if port > 65535 {
			return fail(ExitUsage, "parachute health: --port %d is not a port", port)
		}
		base, from = "http://127.0.0.1:"+strconv.Itoa(port), "--port"
	} else {
		paths, err := e.paths()
		if err != nil {
			return rootErr(err)
		}
		base, from = hubclient.Locate(paths)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h, err := probeHealth(ctx, base)
	if err != nil {
		return fail(ExitFail, "parachute health: %s (from %s): %v — check `parachute status`, or the hub's log", base, from, err)
	}
	e.printf("%s %s: %s\n", h.Service, h.Version, h.Status)
	return nil
}

// probeHealth GETs base/health and returns its body when it says "ok".
func probeHealth(ctx context.Context, base string) (*api.HealthResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	// No proxy: the hub is on loopback, and an HTTP_PROXY in a container's
	// environment must not carry the probe elsewhere.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", hubclient.ErrHubNotRunning, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	var h api.HealthResponse
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, fmt.Errorf("answered something that is not the hub's /health: %w", err)
	}
	if h.Status != "ok" {
		return nil, fmt.Errorf("status %q, want \"ok\"", h.Status)
	}
	return &h, nil
}
