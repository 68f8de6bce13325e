// Command parachute runs and manages local Parachute modules: `parachute
// serve` is the hub runtime; every other verb is a client of it or of the
// platform's service manager.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/openparachute/parachute/internal/cli"
	"github.com/openparachute/parachute/internal/envshim"
	"github.com/openparachute/parachute/internal/reaper"
)

func main() {
	// In the container image /usr/bin/env is this binary, for modules'
	// "#!/usr/bin/env bun" scripts (internal/envshim says why).
	if envshim.Invoked(os.Args[0]) {
		code, env, err := envshim.Exec(os.Args[1:])
		for _, kv := range env {
			fmt.Println(kv)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "env: %v\n", err)
		}
		os.Exit(code)
	}
	// As a container's PID 1, `serve` becomes a reaper that runs the real
	// hub as its child (internal/reaper says why). Before any signal
	// handler of our own: the reaper forwards signals rather than acting
	// on them.
	if reaper.ShouldRun(os.Getpid(), os.Args[1:], os.Getenv) {
		exe, err := os.Executable()
		if err == nil {
			var code int
			code, err = reaper.Run(exe, os.Args)
			if err == nil {
				os.Exit(code)
			}
		}
		fmt.Fprintf(os.Stderr, "parachute: cannot run the hub under a reaper as PID 1: %v; set PARACHUTE_NO_REAPER=1 to run it directly\n", err)
		os.Exit(1)
	}
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
