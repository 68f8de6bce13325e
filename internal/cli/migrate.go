package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/migrate"
)

func migrateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "archive legacy files from the config root, move this box to the supervised hub unit (--to-supervised) or remove the unit (--teardown)",
		Description: `With no mode flag: the archive sweep. Files the legacy hub left at the top
of the config root (daily.db*, server.yaml, channel.log/.err, channel.start.sh,
logs/, tokens.db*, lens/) are moved by rename into .archive-<YYYY-MM-DD>/ (UTC;
reused the same day). Nothing is deleted; anything else is left alone.
--list and --dry-run print the plan and change nothing; --yes skips the
prompts (needed without a terminal); --json prints the plan (and what moved)
as JSON. The sweep refuses while the hub or a legacy module is running.

--to-supervised: the ordered cutover from the legacy detached model. Writes
the hub unit without starting it, stops the legacy hub and modules by their
pidfiles, frees declared ports only from our own processes (an unrelated
program is never killed), verifies the ports are free, starts the unit and
verifies the hub and its modules. Idempotent; re-run it after a failure.

--teardown: disable, stop and remove the hub unit. Idempotent.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "to-supervised", Usage: "cut over to the supervised hub unit"},
			&cli.BoolFlag{Name: "teardown", Usage: "remove the hub unit"},
			&cli.BoolFlag{Name: "list", Usage: "sweep: print the plan, change nothing"},
			&cli.BoolFlag{Name: "dry-run", Usage: "sweep: print the plan, change nothing"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "sweep: archive without asking"},
			&cli.BoolFlag{Name: "json", Usage: "sweep: print the plan and the result as JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fail(ExitUsage, "parachute migrate: unexpected argument %q", c.Args().First())
			}
			paths, err := e.paths()
			if err != nil {
				return rootErr(err)
			}
			mode := c.Bool("to-supervised") || c.Bool("teardown")
			if !mode {
				return e.sweep(c.Context, paths, sweepArgs{list: c.Bool("list"), dryRun: c.Bool("dry-run"),
					yes: c.Bool("yes"), json: c.Bool("json")})
			}
			if c.Bool("list") || c.Bool("dry-run") || c.Bool("yes") || c.Bool("json") {
				return fail(ExitUsage, "parachute migrate: --list, --dry-run, --yes and --json belong to the archive sweep (`parachute migrate` without --to-supervised or --teardown)")
			}
			ctl, err := newController(e, paths)
			if err != nil {
				return fail(ExitFail, "✗ %v", err)
			}
			switch {
			case c.Bool("to-supervised") && c.Bool("teardown"):
				return fail(ExitUsage, "parachute migrate: choose one of --to-supervised and --teardown")
			case c.Bool("teardown"):
				removed, err := ctl.Teardown(c.Context)
				if err != nil {
					return fail(ExitFail, "✗ removing the hub unit: %v", err)
				}
				if !removed {
					e.printf("No hub unit was installed — nothing to tear down.\n")
					return nil
				}
				e.printf("Removed %s unit %s — the hub no longer starts on boot.\n\n", ctl.Mgr.Kind(), ctl.UnitName())
				e.printf("The supervised hub unit is gone. To run the hub now, either:\n  - `parachute serve` (foreground), or\n  - `parachute migrate --to-supervised` to reinstall the unit.\n")
				return nil
			case c.Bool("to-supervised"):
				cut := &migrate.Cutover{Paths: paths, Ctl: ctl, HubPort: hubPort(paths),
					Logf:    func(f string, a ...any) { e.printf(f+"\n", a...) },
					Modules: moduleReadiness(paths)}
				out, err := cut.Run(c.Context)
				switch out {
				case migrate.AlreadyMigrated:
					e.printf("✓ Already migrated — a supervised hub unit is installed and healthy.\n")
					return nil
				case migrate.Migrated:
					e.printf("✓ Migrated to the supervised model.\n  The hub now starts on boot and restarts on failure; modules run as its children.\n" +
						"  Per-module verbs (`parachute start|stop|restart <module>`) drive the running hub.\n")
					return nil
				}
				return fail(ExitFail, "✗ migrate --to-supervised: %s: %v%s", out, err, journalOf(err))
			}
			return nil
		},
	}
}

// moduleReadiness reads the hub's module states for the cutover's final
// check: short → "ready", or the supervisor status.
func moduleReadiness(p config.Paths) func(ctx context.Context) (map[string]string, error) {
	return func(ctx context.Context) (map[string]string, error) {
		mods, err := hubclient.New(p).Modules(ctx)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, m := range mods.Modules {
			switch {
			case m.Ready:
				out[m.Short] = "ready"
			case m.SupervisorStatus != nil:
				out[m.Short] = *m.SupervisorStatus
			}
		}
		return out, nil
	}
}

// sweepArgs are the archive sweep's flags.
type sweepArgs struct{ list, dryRun, yes, json bool }

// sweepHost is what the sweep needs from the machine; tests swap parts.
type sweepHost struct {
	// stdin is where the prompts read; tty is whether it is a terminal
	// (the sweep's rule is stdin alone, reference §0.2).
	stdin io.Reader
	tty   bool
	// unitRunning reports the hub unit active or activating. A manager
	// that cannot be asked counts as not running (§5.3): the pidfile and
	// /health checks still guard.
	unitRunning func(ctx context.Context) bool
	// hubAnswers reports a hub answering /health at this root's address.
	hubAnswers func(ctx context.Context) bool
	now        func() time.Time
}

// newSweepHost describes the real machine.
var newSweepHost = func(e *env, paths config.Paths) sweepHost {
	return sweepHost{
		stdin: stdin,
		tty:   isTerminal(stdin),
		unitRunning: func(ctx context.Context) bool {
			ctl, err := newController(e, paths)
			if err != nil {
				return false
			}
			st, err := ctl.State(ctx)
			return err == nil && (st.ActiveState == "active" || st.ActiveState == "activating")
		},
		hubAnswers: func(ctx context.Context) bool {
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			_, err := hubclient.New(paths).Health(ctx)
			return err == nil
		},
		now: time.Now,
	}
}

// sweepJSON is `parachute migrate --json`.
type sweepJSON struct {
	migrate.Plan
	Changed bool            `json:"changed"`
	Moved   []migrate.Moved `json:"moved"`
}

// sweep is `parachute migrate` without a mode flag (reference §5.3).
func (e *env) sweep(ctx context.Context, paths config.Paths, a sweepArgs) error {
	preview := a.list || a.dryRun
	if a.json && !preview && !a.yes {
		return fail(ExitUsage, "parachute migrate: --json cannot answer prompts; add --list to preview or --yes to archive")
	}
	h := newSweepHost(e, paths)
	if !preview {
		if busy := running(ctx, h, paths); len(busy) > 0 {
			return fail(ExitFail, "parachute migrate: services are currently running — refusing to sweep:\n  - %s\n"+
				"Stop them first, then re-run:\n  parachute stop\n"+
				"Or preview the plan without changing anything:\n  parachute migrate --list", strings.Join(busy, "\n  - "))
		}
	}
	now := h.now()
	plan, err := migrate.Scan(paths, now)
	if err != nil {
		return fail(ExitFail, "✗ parachute migrate: %v", err)
	}
	out := sweepJSON{Plan: plan, Moved: []migrate.Moved{}}
	if a.json {
		if !preview && len(plan.Archive) > 0 {
			out.Moved, err = plan.Apply(now)
			out.Changed = len(out.Moved) > 0
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil {
			return fail(ExitFail, "parachute migrate: %v", jerr)
		}
		if err != nil {
			return fail(ExitFail, "✗ parachute migrate: %v", err)
		}
		return nil
	}
	if plan.Empty() {
		e.printf("Nothing to archive. %s is already clean.\n", paths.Root)
		return nil
	}
	printPlan(e, plan)
	if len(plan.Archive) == 0 {
		e.printf("\nNothing recognized to archive.\n")
		return nil
	}
	switch {
	case a.list:
		e.printf("\n(--list — no changes made)\n")
		return nil
	case a.dryRun:
		e.printf("\n(dry-run — no changes made)\n")
		return nil
	}
	if !a.yes {
		if !h.tty {
			return fail(ExitFail, "parachute migrate: refusing to sweep without a TTY.\n"+
				"Re-run with --yes to archive the items above, or --list to only preview them.")
		}
		in := bufio.NewReader(h.stdin)
		if !confirm(e, in, "\nProceed? [y/N] ") {
			return fail(ExitFail, "Aborted.")
		}
		if plan.LiveDB() {
			e.printf("\n⚠ Some items are databases ([live-db]). A database and its -wal/-shm files belong\n" +
				"  together: archive all of them or none, and only while nothing has them open.\n")
			if !confirm(e, in, "Archive the live-db files too? [y/N] ") {
				return fail(ExitFail, "Aborted.")
			}
		}
	}
	moved, err := plan.Apply(now)
	if err != nil {
		return fail(ExitFail, "✗ parachute migrate: %v (%d item(s) were already moved into %s/)", err, len(moved), plan.ArchiveDir)
	}
	e.printf("✓ Archived %d item(s) to %s/\n", len(moved), plan.ArchiveDir)
	return nil
}

// running lists what the sweep must not race: the hub (its unit active or
// activating, a live legacy pidfile, or a hub answering /health) and every
// module with a live legacy pidfile.
func running(ctx context.Context, h sweepHost, paths config.Paths) []string {
	busy := migrate.Busy(paths)
	if slices.Contains(busy, "hub") {
		return busy
	}
	if h.unitRunning(ctx) || h.hubAnswers(ctx) {
		busy = append([]string{"hub"}, busy...)
	}
	return busy
}

// confirm asks a y/N question: only "y" or "yes" (any case) is yes.
func confirm(e *env, in *bufio.Reader, prompt string) bool {
	e.printf("%s", prompt)
	line, _ := in.ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// printPlan prints the plan (reference §5.2).
func printPlan(e *env, p migrate.Plan) {
	slash := func(it migrate.Item) string {
		if it.Dir {
			return "/"
		}
		return ""
	}
	if len(p.Archive) > 0 {
		e.printf("Will archive: %d item(s) (%s) → %s/\n", len(p.Archive), migrate.HumanSize(p.TotalSize), p.ArchiveDir)
		for _, it := range p.Archive {
			e.printf("  [%s] %s%s  (%s)  — %s\n", it.Risk, termSafe(it.Name), slash(it), migrate.HumanSize(it.Size), it.Label)
		}
	}
	if len(p.Unknown) > 0 {
		if len(p.Archive) > 0 {
			e.printf("\n")
		}
		noun := "entries"
		if len(p.Unknown) == 1 {
			noun = "entry"
		}
		e.printf("Leaving alone: %d unknown %s at the root.\n", len(p.Unknown), noun)
		e.printf("  Neither this hub nor its modules wrote these, so the sweep does not touch them.\n")
		e.printf("  Move or delete them yourself once you know what they are.\n")
		for _, it := range p.Unknown {
			e.printf("  [unknown — skipping] %s%s\n", termSafe(it.Name), slash(it))
		}
	}
}

// termSafe escapes control characters in a file name before it reaches the
// terminal: anyone who can create a file in the root chooses its name.
func termSafe(s string) string {
	var b strings.Builder
	w := newTermSafeWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Flush()
	return b.String()
}
