package cli

import (
	"encoding/json"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/doctor"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// newDoctor builds the doctor for paths on this machine; tests replace it
// to plant problems through the probes.
var newDoctor = func(e *env, paths config.Paths) *doctor.Doctor {
	ctl, err := newController(e, paths)
	if err != nil || ctl.Mgr.Kind() == servicemgr.KindNone {
		ctl = nil
	}
	return &doctor.Doctor{Paths: paths, Probes: doctor.HostProbes(paths, ctl)}
}

func doctorCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "find out why something does not work, and what to run to fix it",
		Description: `Checks the hub unit (state, last failure and its log), the PATH modules get
under the service manager against your shell's (bun, node, npm; without a
hub unit, as in a container, where they are on this PATH), the unit's config
root and bun directory against this shell's, lingering
for a user unit, port conflicts (naming the holder), disk space and log
sizes, the operator token (private, yours, accepted by the hub), the hub's
origin against its issuer, and the exposure state against what tailscale and
cloudflared report. Every problem comes with the command that fixes it.

Exit codes: 0 nothing is wrong (warnings allowed), 1 at least one error.`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the findings as JSON"}},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				return fail(ExitUsage, "parachute doctor: unexpected argument %q", c.Args().First())
			}
			paths, err := e.paths()
			if err != nil {
				return rootErr(err)
			}
			rep := newDoctor(e, paths).Run(c.Context)
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return fail(ExitFail, "parachute doctor: %v", err)
				}
			} else {
				printDoctor(e, paths, rep)
			}
			if !rep.OK {
				return silent(ExitFail)
			}
			return nil
		},
	}
}

// doctorMark is a severity's one-character mark.
func doctorMark(s doctor.Severity) string {
	switch s {
	case doctor.OK:
		return "✓"
	case doctor.Info:
		return "·"
	case doctor.Warn:
		return "⚠"
	case doctor.Error:
		return "✗"
	}
	return "?"
}

func printDoctor(e *env, paths config.Paths, rep doctor.Report) {
	e.printf("parachute doctor — %s\n\n", paths.Root)
	var errs, warns int
	for _, f := range rep.Findings {
		e.printf("%s %-12s %s\n", doctorMark(f.Severity), f.Check, termSafe(f.Seen))
		for _, d := range f.Detail {
			// Journal lines and PATHs come from elsewhere: escape them.
			e.printf("      %s\n", termSafe(d))
		}
		if f.Fix != "" {
			lines := strings.Split(f.Fix, "\n")
			e.printf("    fix: %s\n", lines[0])
			for _, l := range lines[1:] {
				e.printf("         %s\n", l)
			}
		}
		switch f.Severity {
		case doctor.Error:
			errs++
		case doctor.Warn:
			warns++
		}
	}
	switch {
	case errs > 0:
		e.printf("\n%d error(s), %d warning(s).\n", errs, warns)
	case warns > 0:
		e.printf("\nNo errors; %d warning(s).\n", warns)
	default:
		e.printf("\nEverything looks right.\n")
	}
}
