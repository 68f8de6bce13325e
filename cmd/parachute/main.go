// Command parachute runs and manages local Parachute modules: `parachute
// serve` is the hub runtime; every other verb is a client of it or of the
// platform's service manager.
package main

import (
	"context"
	"os"

	"github.com/openparachute/parachute/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
