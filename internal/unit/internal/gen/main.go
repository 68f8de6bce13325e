// Command gen writes the packaged unit files (packaging/systemd/...,
// packaging/launchd/...) from the unit model. It runs from
// `go generate ./internal/unit`; TestArtifactsCommitted fails when the
// committed copies drift from what it would write.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/openparachute/parachute/internal/unit"
)

func main() {
	root := flag.String("root", ".", "repository root to write packaging/ under")
	flag.Parse()
	if err := unit.WriteArtifacts(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
