package reaper

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Run starts path with argv (argv[0] included) as this process's child,
// with this process's environment and standard files, then reaps every
// child that exits — the one it started and any orphan the kernel hands
// over — and forwards the Forwarded signals to the one it started. It
// returns that child's exit code (128+n when signal n killed it) once the
// child has exited. Run must be the only waiter in the process: call it
// from main before anything else starts children.
func Run(path string, argv []string) (int, error) {
	sigs := make(chan os.Signal, 16)
	// Before the child starts: a SIGTERM that arrives at once is queued
	// for it, not lost.
	signal.Notify(sigs, Forwarded...)
	defer signal.Stop(sigs)

	child, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return 1, fmt.Errorf("starting %s: %w", path, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				// os.Process signals through a pidfd, so a signal that
				// races the child's exit cannot hit a recycled pid.
				child.Signal(s)
			case <-done:
				return
			}
		}
	}()

	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 1, fmt.Errorf("waiting for %s: %w", path, err)
		}
		if pid == child.Pid && (ws.Exited() || ws.Signaled()) {
			reapAll()
			return exitCode(ws), nil
		}
	}
}

// reapAll collects every child that has already exited, without blocking.
func reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
