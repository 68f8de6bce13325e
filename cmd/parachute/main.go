// Command parachute runs and manages local Parachute modules: `parachute
// serve` is the hub runtime; every other verb is a client of it or of the
// platform's service manager.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/openparachute/parachute/internal/cli"
)

func main() {
	// The first SIGINT or SIGTERM cancels the verb's context, so it stops
	// its work and runs its clean-up (a password prompt restores the
	// terminal's echo, a follower flushes); the default action is then
	// restored, so a second Ctrl-C ends a verb that does not stop. `serve`
	// adds its own handler for a graceful shutdown.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
