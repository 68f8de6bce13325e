package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openparachute/parachute/internal/secfile"
)

// lockName is the file under the config root that serialises installs,
// uninstalls and upgrades across processes (the hub and CLIs). Package
// managers corrupt their global state when two run at once (bun's global
// package.json, reference hub#89), and a rollback must not race another
// install of the same module.
const lockName = ".install.lock"

// lockPoll is how often a waiting installer retries the lock.
const lockPoll = 100 * time.Millisecond

// lockRoot takes an exclusive flock on <root>/.install.lock and returns
// the function that releases it. While another installer holds it, onWait
// is called once and the lock is retried until ctx ends. flock belongs to
// the open file, so two goroutines of one process exclude each other too.
func lockRoot(ctx context.Context, root string, onWait func()) (func(), error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", root, err)
	}
	path := filepath.Join(root, lockName)
	// Why secfile: a link planted as the lock would make a root install
	// create or open any file it points at.
	f, err := secfile.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	waited := false
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !waited && onWait != nil {
			onWait()
		}
		waited = true
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another install to finish (%s): %w", path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// tryLockRoot takes the install lock if it is free. ok is false when
// another installer holds it. A root that does not exist has nothing to
// lock or recover: ok is true and nothing is created.
func tryLockRoot(root string) (unlock func(), ok bool, err error) {
	if _, err := os.Stat(root); err != nil {
		return func() {}, true, nil
	}
	path := filepath.Join(root, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return func() { f.Close() }, true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			f.Close()
			return nil, false, nil
		}
		f.Close()
		return nil, false, fmt.Errorf("locking %s: %w", path, err)
	}
}
