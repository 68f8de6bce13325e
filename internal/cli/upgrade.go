package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/selfupdate"
	"github.com/openparachute/parachute/internal/servicemgr"
)

func upgradeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "upgrade",
		Usage:     "upgrade a module, the hub, or (with no argument) the hub and then every module",
		ArgsUsage: "[<service>|hub]",
		Description: `A module installed with bun or npm is upgraded on its channel (an installed
prerelease follows rc, a release follows latest, unless --channel says
otherwise); a linked git checkout gets git pull --ff-only (refused on a
dirty tree). The module restarts through the hub once the new version is on
disk; if it does not become ready, the previous version is put back and
restarted. Nothing restarts when nothing changed. A downgrade is refused
unless --allow-downgrade.

The hub: a deb, rpm, Homebrew or Nix install prints the package manager's
command and changes nothing; a container must be redeployed. A standalone
binary is replaced with --from <new binary>: smoke-tested, swapped keeping
<binary>.old, restarted through the service manager, and rolled back if
the new hub is not healthy within a minute.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "channel", Usage: "rc or latest (default: follow the installed version)"},
			&cli.StringFlag{Name: "tag", Usage: "npm dist-tag or exact version"},
			&cli.StringFlag{Name: "from", Usage: "upgrade from this file: a new parachute binary (hub), or a module directory, .tgz or npm spec"},
			&cli.BoolFlag{Name: "allow-downgrade", Usage: "allow moving to an older version"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would change, change nothing"},
			// --op is how the hub's upgrade helper reports into the status file.
			&cli.StringFlag{Name: "op", Hidden: true},
		},
		Action: func(c *cli.Context) error { return runUpgrade(e, c) },
	}
}

func runUpgrade(e *env, c *cli.Context) error {
	if c.Args().Len() > 1 {
		return fail(ExitUsage, "parachute upgrade: unexpected argument %q\nusage: parachute upgrade [<service>|hub] [--channel rc|latest] [--from FILE] [--allow-downgrade] [--dry-run]", c.Args().Get(1))
	}
	if err := install.CheckChannel(c.String("channel")); err != nil {
		return fail(ExitUsage, "parachute upgrade: %v", err)
	}
	paths, err := e.paths()
	if err != nil {
		return rootErr(err)
	}
	switch target := c.Args().First(); target {
	case "hub":
		return upgradeHub(e, c, paths, false)
	case "":
		if c.String("from") != "" {
			return fail(ExitUsage, "parachute upgrade: --from needs a target: `parachute upgrade hub --from FILE` or `parachute upgrade <service> --from FILE`")
		}
		return upgradeAll(e, c, paths)
	default:
		return upgradeModule(e, c, paths, target)
	}
}

// upgradeAll upgrades the hub first, then every installed module; a
// failure does not stop the rest, and the exit code is the first failure's.
func upgradeAll(e *env, c *cli.Context, paths config.Paths) error {
	f, err := manifest.Load(paths.ServicesJSON())
	if err != nil {
		return fail(ExitFail, "services.json is malformed: %v\nFix or remove the file, then re-run.", err)
	}
	code := ExitOK
	report := func(err error) {
		if err == nil {
			return
		}
		var nothing *nothingToUpgrade
		if errors.As(err, &nothing) {
			e.printf("%s (skipped)\n", strings.TrimPrefix(nothing.err.msg, "✗ "))
			return
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				e.eprintf("%s\n", ee.msg)
			}
			if code == ExitOK {
				code = ee.code
			}
			return
		}
		e.eprintf("%v\n", err)
		if code == ExitOK {
			code = ExitFail
		}
	}
	report(upgradeHub(e, c, paths, true))
	seen := map[string]bool{}
	for _, row := range f.Services {
		short := manifest.ShortName(row.Name)
		if seen[short] {
			continue
		}
		seen[short] = true
		report(upgradeModule(e, c, paths, short))
	}
	if len(seen) == 0 {
		e.printf("No modules installed yet. Try: parachute install <service>\n")
	}
	if code != ExitOK {
		return silent(code)
	}
	return nil
}

func upgradeModule(e *env, c *cli.Context, paths config.Paths, short string) error {
	req := install.UpgradeRequest{Short: short, From: absIfPath(c.String("from")), Channel: c.String("channel"),
		Tag: c.String("tag"), AllowDowngrade: c.Bool("allow-downgrade"), DryRun: c.Bool("dry-run")}
	body := api.UpgradeBody{From: req.From, Channel: req.Channel, Tag: req.Tag, AllowDowngrade: req.AllowDowngrade, DryRun: req.DryRun}
	return viaHubOrLocal(e, c.Context, paths, "upgrade", short, body, func(in *install.Installer) (string, error) {
		res, err := in.Upgrade(c.Context, req)
		if err != nil {
			return "", err
		}
		msg := res.Summary()
		if !res.Unchanged && !res.DryRun {
			msg += fmt.Sprintf("\n  The hub is not running; %s runs %s when it starts (`parachute start`).", res.Short, res.Version)
		}
		return msg, nil
	})
}

// upgradeHub upgrades the hub binary. In a sweep (all), a hub that cannot
// be upgraded here (no --from, a packaged install) is a note, not a failure.
func upgradeHub(e *env, c *cli.Context, paths config.Paths, all bool) error {
	ctx := c.Context
	opID := c.String("op")
	statusPath := selfupdate.StatusPath(paths)
	logf := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		e.printf("hub: %s\n", line)
		if opID != "" {
			_, _ = selfupdate.UpdateStatus(statusPath, opID, time.Now(), func(s *selfupdate.Status) { s.Log = append(s.Log, line) })
		}
	}
	src, err := selfupdate.Detect(ctx, selfupdate.HostDefaults())
	if err != nil {
		return fail(ExitFail, "✗ hub: %v", err)
	}
	from := c.String("from")
	if from != "" {
		if from, err = filepath.Abs(from); err != nil {
			return fail(ExitFail, "✗ hub: %v", err)
		}
	}
	if all && (from == "" || src.Packaged() || src.Kind == selfupdate.KindContainer) {
		switch {
		case src.Packaged():
			e.printf("hub: installed by %s; upgrade it with: %s\n", src.Kind, src.Command)
		case src.Kind == selfupdate.KindContainer:
			e.printf("hub: runs from a container image; redeploy the new image from your platform.\n")
		default:
			e.printf("hub: no release source is configured; skipping (upgrade it with `parachute upgrade hub --from <new binary>`).\n")
		}
		return nil
	}
	if opID != "" {
		_, _ = selfupdate.UpdateStatus(statusPath, opID, time.Now(), func(s *selfupdate.Status) {
			s.Phase = selfupdate.PhaseRunning
			s.Log = append(s.Log, fmt.Sprintf("upgrade helper started (pid %d)", os.Getpid()))
		})
	}
	opts := selfupdate.Options{Source: src, From: from, AllowDowngrade: c.Bool("allow-downgrade"), DryRun: c.Bool("dry-run"), Logf: logf}
	if h, err := hubclient.New(paths).Health(ctx); err == nil {
		opts.CurrentVersion = h.Version
	}
	note := hubRestarter(ctx, e, paths, &opts, statusPath, opID)
	out, err := selfupdate.Upgrade(ctx, opts)
	finish := func(phase string, err error) {
		if opID != "" {
			_, _ = selfupdate.UpdateStatus(statusPath, opID, time.Now(), func(s *selfupdate.Status) { s.Finish(phase, err, time.Now()) })
		}
	}
	var rb *selfupdate.RollbackError
	switch {
	case err == nil:
		finish(selfupdate.PhaseSucceeded, nil)
	case errors.As(err, &rb):
		finish(selfupdate.PhaseRolledBack, err)
		return fail(ExitFail, "✗ hub: %v\n  See `parachute logs hub` for why %s did not come up.", err, rb.Failed)
	case errors.Is(err, selfupdate.ErrNoReleaseSource):
		finish(selfupdate.PhaseFailed, err)
		return fail(ExitFail, "✗ hub: no release source is configured for this hub.\n  Pass the new binary: `parachute upgrade hub --from /path/to/parachute`.")
	default:
		finish(selfupdate.PhaseFailed, err)
		return fail(ExitFail, "✗ hub: %v", err)
	}
	switch {
	case out.DryRun:
		e.printf("dry run: the hub would go from %s to %s (the new binary passed its smoke test); nothing changed.\n", orDash(out.From), out.To)
	case out.Unchanged:
		e.printf("✓ hub is already at %s; nothing restarted.\n", out.To)
	case out.Restarted:
		e.printf("✓ hub upgraded %s → %s and restarted (the previous binary is kept at %s).\n", orDash(out.From), out.To, out.Backup)
	default:
		e.printf("✓ hub binary replaced: %s → %s (the previous binary is kept at %s).\n  %s\n", orDash(out.From), out.To, out.Backup, note)
	}
	return nil
}

// hubRestarter fills opts.Restart and opts.WaitHealthy when a service
// manager runs the hub unit, and otherwise returns what the operator must
// do to run the new binary.
func hubRestarter(ctx context.Context, e *env, paths config.Paths, opts *selfupdate.Options, statusPath, opID string) string {
	ctl, err := newController(e, paths)
	if err != nil || ctl.Mgr.Kind() == servicemgr.KindNone {
		return "No service manager runs the hub here: restart `parachute serve` to run the new version."
	}
	st, _ := ctl.State(ctx)
	if !st.Installed && st.LoadState != "loaded" {
		return "No hub unit is installed: restart `parachute serve` to run the new version (or `parachute init` to run it as a service)."
	}
	opts.Restart = func(ctx context.Context) error {
		if opID != "" {
			_, _ = selfupdate.UpdateStatus(statusPath, opID, time.Now(), func(s *selfupdate.Status) { s.Phase = selfupdate.PhaseRestarting })
		}
		return ctl.Mgr.Restart(ctx, ctl.UnitName())
	}
	opts.WaitHealthy = func(ctx context.Context, want string) error {
		var last error
		for {
			// A fresh client each time: the new hub rewrites its port file.
			h, err := hubclient.New(paths).Health(ctx)
			switch {
			case err != nil:
				last = err
			case want != "" && h.Version != want:
				last = fmt.Errorf("the hub answers as %s", h.Version)
			default:
				return nil
			}
			select {
			case <-ctx.Done():
				return last
			case <-time.After(250 * time.Millisecond): // poll interval
			}
		}
	}
	return ""
}

// hubSource says how this binary was installed (standalone, deb, rpm,
// homebrew, nix, container), for GET /api/hub.
func hubSource(ctx context.Context) string {
	src, err := selfupdate.Detect(ctx, selfupdate.HostDefaults())
	if err != nil {
		return "unknown"
	}
	return string(src.Kind)
}

func orDash(v string) string {
	if v == "" {
		return "(unknown)"
	}
	return v
}
