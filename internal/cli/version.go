package cli

import (
	"encoding/json"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/buildinfo"
)

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:   "version",
		Usage:  "print the version, commit and Go version of this binary",
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error { return printVersion(e, c.Bool("json")) },
	}
}

// printVersion prints this binary's build information, as text or JSON;
// `parachute version` and `parachute --version` share it.
func printVersion(e *env, asJSON bool) error {
	bi := buildinfo.Get()
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(bi)
	}
	e.printf("parachute %s (commit %s, %s, %s)\n", bi.Version, bi.Commit, bi.GoVersion, bi.Platform)
	return nil
}
