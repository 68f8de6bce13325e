package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/manifest"
)

func logsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print a module's recent output; -f to follow",
		ArgsUsage: "<service>",
		Description: `When the hub is running and supervises the module, reads its in-memory log
(and with -f streams new lines until Ctrl-C). Otherwise reads the module's
log file, <root>/<service>/logs/<service>.log (rotated at 10 MiB, 3 kept).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines"},
			&cli.IntFlag{Name: "lines", Aliases: []string{"n"}, Value: 200, Usage: "how many recent lines to print"},
			&cli.BoolFlag{Name: "raw", Usage: "print the module's bytes as they are, even to a terminal (by default control characters are shown as \\xNN on a terminal)"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return fail(ExitUsage, "usage: parachute logs <service> [-f] [-n N] [--raw]")
			}
			svc := c.Args().First()
			n := c.Int("lines")
			if n < 0 {
				return fail(ExitUsage, "parachute logs: -n must be 0 or more, got %d", n)
			}
			paths, err := e.paths()
			if err != nil {
				return rootErr(err)
			}
			if !validServiceName(svc) {
				return fail(ExitUsage, "parachute logs: %q is not a service name", svc)
			}
			f, _ := manifest.LoadLenient(paths.ServicesJSON())
			_, registered := f.Find(svc)
			_, known := manifest.KnownByShort(svc)
			if !registered && !known && svc != "hub" {
				return fail(ExitFail, "parachute logs: unknown service %q. Registered: %s", svc, registeredNames(f))
			}
			if svc == "hub" {
				return hubLogs(e, c, paths, n, c.Bool("follow"))
			}
			// A module's output is untrusted: on a terminal, escape what
			// could drive it (see termSafeWriter).
			if !c.Bool("raw") && isTerminal(e.stdout) {
				tw := newTermSafeWriter(e.stdout)
				defer tw.Flush()
				e = &env{stdout: tw, stderr: e.stderr}
			}
			client := hubclient.New(paths)
			if _, err := client.Health(c.Context); err == nil {
				if c.Bool("follow") {
					err = client.FollowLogs(c.Context, svc, n, e.stdout)
				} else {
					var l *api.LogsResponse
					l, err = client.Logs(c.Context, svc, n)
					if err == nil {
						io.WriteString(e.stdout, l.Text)
						return nil
					}
				}
				var he *hubclient.HTTPError
				if err == nil || !(errors.As(err, &he) && he.Code == api.CodeNotSupervised) {
					if err != nil {
						return fail(ExitFail, "parachute logs %s: %v", svc, err)
					}
					return nil
				}
				// Not supervised by this hub: fall through to the file.
			}
			return fileLogs(e, c, paths, svc, n, c.Bool("follow"))
		},
	}
}

func validServiceName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/\\") && s != "." && s != ".."
}

func registeredNames(f *manifest.File) string {
	var names []string
	for _, r := range f.Services {
		names = append(names, manifest.ShortName(r.Name))
	}
	names = append(names, "hub")
	return strings.Join(names, ", ")
}

// fileLogs prints the tail of the module's log file, optionally following it.
func fileLogs(e *env, c *cli.Context, paths config.Paths, svc string, n int, follow bool) error {
	path := paths.ModuleLog(svc)
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		e.printf("no logs yet for %s (%s does not exist). `parachute start %s` to begin.\n", svc, path, svc)
		return nil
	}
	if err != nil {
		return fail(ExitFail, "parachute logs %s: %v", svc, err)
	}
	defer fh.Close()
	lines, err := tailLines(fh, n)
	if err != nil {
		return fail(ExitFail, "parachute logs %s: reading %s: %v", svc, path, err)
	}
	for _, l := range lines {
		fmt.Fprintln(e.stdout, l)
	}
	if !follow {
		return nil
	}
	return followFile(c, fh, e.stdout)
}

// tailLines returns the last n lines of r.
func tailLines(r io.Reader, n int) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var ring []string
	for sc.Scan() {
		ring = append(ring, sc.Text())
		if len(ring) > n {
			ring = ring[1:]
		}
	}
	return ring, sc.Err()
}

// followFile copies what is appended to fh until the context ends. It polls:
// a file being appended to by another process has no portable wake-up.
func followFile(c *cli.Context, fh *os.File, w io.Writer) error {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := io.Copy(w, fh); err != nil {
			return err
		}
		select {
		case <-c.Context.Done():
			return nil
		case <-t.C:
		}
	}
}

// hubLogs prints the hub's own output: the launchd log file when there is
// one, else the systemd journal.
func hubLogs(e *env, c *cli.Context, paths config.Paths, n int, follow bool) error {
	logFile := paths.HubLogDir() + "/hub.log"
	if _, err := os.Stat(logFile); err == nil {
		fh, err := os.Open(logFile)
		if err != nil {
			return fail(ExitFail, "parachute logs hub: %v", err)
		}
		defer fh.Close()
		lines, _ := tailLines(fh, n)
		for _, l := range lines {
			fmt.Fprintln(e.stdout, l)
		}
		if follow {
			return followFile(c, fh, e.stdout)
		}
		return nil
	}
	return journalLogs(e, c, n, follow)
}
