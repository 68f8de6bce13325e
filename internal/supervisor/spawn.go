package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Every child is forked from one goroutine locked to its OS thread for the
// life of the process.
//
// Why: Linux delivers the parent-death signal (Pdeathsig) when the *thread*
// that forked the child exits, not the process (prctl(2); golang/go#27505).
// The Go runtime terminates a thread when a goroutine locked to it returns
// without unlocking, so a child forked from an arbitrary thread could be
// SIGKILLed long before the hub exits, because some unrelated goroutine
// (a library doing LockOSThread for a namespace switch, say) happened to run
// on that thread later. The spawner goroutine never returns and never
// unlocks, so its thread lives exactly as long as the hub.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// spawnLocked runs cmd.Start on the spawner thread.
func spawnLocked(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go spawnLoop()
	})
	done := make(chan error, 1)
	spawnReqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}

func spawnLoop() {
	runtime.LockOSThread() // never unlocked; see above
	for req := range spawnReqs {
		req.done <- req.cmd.Start()
	}
}

// envValue returns the last value of key in env.
func envValue(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// missingError describes an executable that cannot be run.
type missingError struct {
	binary string
	desc   string
}

func (e *missingError) Error() string { return e.desc }

// lookPath resolves argv0 the way the child will see it: against the PATH
// in the child's environment (the hub's own when env is nil, since the child
// then inherits it) and relative to the child's working directory dir. A
// name with a slash is a path, relative to dir when not absolute.
func lookPath(argv0 string, env []string, dir string) (string, error) {
	base := dir
	if base == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("finding the working directory: %w", err)
		}
		base = wd
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	if strings.Contains(argv0, "/") {
		p := abs(argv0)
		if err := checkExecutable(p); err != nil {
			return "", &missingError{binary: argv0, desc: fmt.Sprintf(
				"%s cannot be run (%v); check the module's start command and working directory %s", p, err, base)}
		}
		return p, nil
	}
	path, ok := os.Getenv("PATH"), true
	if env != nil {
		path, ok = envValue(env, "PATH")
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "." // POSIX: an empty PATH entry is the current directory
		}
		if p := abs(filepath.Join(d, argv0)); checkExecutable(p) == nil {
			return p, nil
		}
	}
	searched := "PATH=" + path
	if !ok {
		searched = "no PATH in the module's environment"
	}
	return "", &missingError{binary: argv0, desc: fmt.Sprintf(
		"%s was not found (searched %s). Install it, or put its directory on the module's PATH, then start the module again.",
		argv0, searched)}
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if fi.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return fmt.Errorf("not executable: %w", err)
	}
	return nil
}
