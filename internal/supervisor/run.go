package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openparachute/parachute/internal/logsink"
	"golang.org/x/sys/unix"
)

// run is one spawned child and the goroutines around it: a waiter that
// closes leaderExited, two pumps copying its pipes into the module's sink
// and, with a port, a readiness prober. The owner goroutine holds the run
// and is the only one to signal, reap or finish it.
type run struct {
	cmd       *exec.Cmd
	pid       int       // also the process-group id
	startedAt time.Time // Supervisor clock
	record    string    // .hubchild path; "" when none
	cgroup    string    // the child's own cgroup directory; "" = process group only

	leaderExited chan struct{} // closed by the waiter once the leader has exited
	waitErr      error         // set by the waiter before closing leaderExited
	reaped       bool          // on pinning platforms the owner reaps; elsewhere the waiter, before closing leaderExited

	stdout, stderr *os.File // our read ends of the child's pipes; the pumps own them
	pumps          sync.WaitGroup

	probe       chan probeEvent // readiness events; nil without a probe
	probeCancel context.CancelFunc
	probeDone   chan struct{}
}

// exitInfo is how a child ended.
type exitInfo struct {
	code   *int
	signal string
}

func (e exitInfo) String() string {
	switch {
	case e.code != nil:
		return fmt.Sprintf("with code %d", *e.code)
	case e.signal != "":
		return "on " + e.signal
	default:
		return "(status unknown)"
	}
}

func exitOf(ps *os.ProcessState) exitInfo {
	if ps == nil {
		return exitInfo{}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitInfo{signal: unix.SignalName(ws.Signal())}
	}
	code := ps.ExitCode()
	return exitInfo{code: &code}
}

// spawn starts o.spec's command. It returns a StartError (and no run) when
// the command cannot be started.
func (o *owner) spawn() (*run, *StartError) {
	sp := o.spec
	fail := func(typ, binary, desc string) *StartError {
		return &StartError{Type: typ, Description: desc, Binary: binary, At: o.s.clock.Now()}
	}
	if sp.Dir != "" {
		if fi, err := os.Stat(sp.Dir); err != nil || !fi.IsDir() {
			return nil, fail("spawn_failed", "", fmt.Sprintf("working directory %s of %s is missing or not a directory", sp.Dir, sp.Short))
		}
	}
	path, err := lookPath(sp.Argv[0], sp.Env, sp.Dir)
	var me *missingError
	if errors.As(err, &me) {
		return nil, fail("missing_dependency", sp.Argv[0], me.desc)
	}
	if err != nil {
		return nil, fail("spawn_failed", sp.Argv[0], err.Error())
	}

	// The child writes straight into pipes we create (rather than
	// exec.Cmd copying through goroutines), so Wait never blocks on a
	// grandchild that still holds stdout, and our pumps own the read ends.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fail("spawn_failed", "", fmt.Sprintf("creating stdout pipe: %v", err))
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fail("spawn_failed", "", fmt.Sprintf("creating stderr pipe: %v", err))
	}
	newCmd := func(cgroupFD int) *exec.Cmd {
		attr := sysProcAttr()
		if cgroupFD >= 0 {
			intoCgroup(attr, cgroupFD)
		}
		return &exec.Cmd{
			Path:        path,
			Args:        sp.Argv,
			Env:         sp.Env,
			Dir:         sp.Dir,
			Stdout:      outW, // Stdin nil: the child reads /dev/null
			Stderr:      errW,
			SysProcAttr: attr,
		}
	}
	cgDir, cgFD := "", -1
	if o.s.opts.Cgroups != nil {
		if cgDir, cgFD, err = o.s.opts.Cgroups.open(sp.Short); err != nil {
			o.log.Warn("starting the module in its process group only", "err", err)
		}
	}
	cmd := newCmd(cgFD)
	err = spawnLocked(cmd)
	if cgFD >= 0 {
		closeFD(cgFD)
		if err != nil {
			// clone3 into the cgroup can fail where a plain fork works (an
			// old kernel, a cgroup that will not take processes); the exec
			// errors below fail the same way again.
			o.log.Warn("could not start the module in its cgroup; using its process group only", "cgroup", cgDir, "err", err)
			removeCgroup(cgDir, o.log)
			cgDir = ""
			cmd = newCmd(-1)
			err = spawnLocked(cmd)
		}
	}
	// The child holds its own copies; ours would keep the pipes open forever.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		if cgDir != "" {
			removeCgroup(cgDir, o.log)
		}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.ENOEXEC) {
			return nil, fail("missing_dependency", sp.Argv[0], fmt.Sprintf(
				"%s could not be executed (%v); if it is a script, check its #! interpreter is installed", path, err))
		}
		return nil, fail("spawn_failed", sp.Argv[0], fmt.Sprintf("starting %s: %v", path, err))
	}

	r := &run{
		cmd:          cmd,
		pid:          cmd.Process.Pid,
		startedAt:    o.s.clock.Now(),
		cgroup:       cgDir,
		leaderExited: make(chan struct{}),
		stdout:       outR,
		stderr:       errR,
	}
	if o.s.onSpawn != nil {
		o.s.onSpawn(r.pid)
	}
	r.pumps.Add(2)
	go pump(outR, o.m.sink.NewStream(), &r.pumps, o.log)
	go pump(errR, o.m.sink.NewStream(), &r.pumps, o.log)
	go func() {
		err := waitLeader(cmd)
		r.waitErr = err
		if !canPin {
			r.reaped = true
		}
		close(r.leaderExited)
	}()
	if o.s.opts.RunDir != nil {
		o.writeRecord(r)
	}
	if sp.Port > 0 {
		r.startProbe(o.s.client, sp)
	}
	return r, nil
}

func (o *owner) writeRecord(r *run) {
	rec := childRecord{PID: r.pid, PGID: r.pid, Argv: o.spec.Argv, HubPID: self().PID, HubStartTimeTicks: self().Start, Cgroup: r.cgroup}
	if st, err := readProc(r.pid); err == nil {
		rec.StartTimeTicks, rec.SID = st.Start, st.SID
	}
	path := filepath.Join(o.s.opts.RunDir(o.m.short), o.m.short+recordExt)
	if err := writeRecord(path, rec); err != nil {
		o.log.Warn("cannot record the child for reaping after a hub crash", "err", err)
		return
	}
	r.record = path
}

// pump copies one pipe into the module's sink until EOF (every writer,
// grandchildren included, has closed it) or a read deadline set by drain.
//
// The bytes are the module's, so hostile. logsink is fuzzed to be total,
// but a panic here would end the whole hub with every module in it: as a
// second line of defence a panic in the sink is logged and the stream's
// output is discarded from then on, still read to EOF so the child never
// blocks on a full pipe.
func pump(f *os.File, st io.WriteCloser, wg *sync.WaitGroup, log *slog.Logger) {
	defer wg.Done()
	defer f.Close()
	broken := false
	guard := func(fn func()) {
		defer func() {
			if r := recover(); r != nil {
				broken = true
				log.Error("module log pipeline failed; discarding the rest of this stream", "panic", r)
			}
		}()
		fn()
	}
	defer guard(func() { st.Close() })
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 && !broken {
			guard(func() { st.Write(buf[:n]) })
		}
		if err != nil {
			return
		}
	}
}

// signal sends sig once to every process of the child, but only to
// processes provably still the child's.
//
// With a cgroup that is the cgroup alone: the child was cloned into it
// (CLONE_INTO_CGROUP) and whatever it forks starts there, so the cgroup is
// the complete set, its process group only a part (setsid and double forks
// leave the group). Signalling both would deliver SIGTERM twice to every
// group member, and many runtimes read a second SIGTERM as "quit now" (node
// and bun frameworks, Python's second Ctrl-C, our own CLI), cutting their
// graceful shutdown short. signalCgroup pins each process with a pidfd, so
// no pid reuse risk; SIGKILL goes through cgroup.kill.
//
// Without one it is the process group, while the group id is provably
// still the child's. On pinning platforms that is until the owner reaps
// the leader: an unreaped (zombie) leader keeps its pid, hence its group
// id, from reuse. Elsewhere the leader is reaped on exit and the group is
// signalled only while it is seen non-empty (a member pins the id; the
// window between that check and the signal is the residual risk).
func (r *run) signal(sig syscall.Signal) error {
	exited := isClosed(r.leaderExited)
	switch {
	case canPin && r.reaped:
		return nil
	case !canPin && exited && !groupAlive(r.pid):
		return nil
	case canPin && exited && !r.alive():
		return nil // only the zombie leader is left: nothing to signal
	}
	if r.cgroup != "" {
		if sig == syscall.SIGKILL {
			killCgroup(r.cgroup)
			return nil
		}
		_, err := signalCgroup(r.cgroup, sig)
		return err
	}
	leader := func(sig syscall.Signal) error {
		if exited {
			return nil
		}
		if err := r.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		return nil
	}
	return signalGroup(r.pid, sig, leader)
}

// alive reports whether anything of r is still running: its cgroup is
// populated, or without one its process group has a live member.
func (r *run) alive() bool {
	if r.cgroup != "" {
		return cgroupPopulated(r.cgroup)
	}
	return groupAlive(r.pid)
}

// killWait bounds the wait for a SIGKILLed group to disappear (a process in
// uninterruptible sleep can outlast SIGKILL); drainWait bounds the wait for
// the log pumps once the group is gone (a daemon that escaped the group may
// still hold the pipes).
const (
	killWait  = 10 * time.Second
	drainWait = 500 * time.Millisecond
)

// finish ends r: one SIGTERM to each of its processes (r.signal), SIGKILL
// at killAt or when Shutdown hurries, then waits for the leader to exit and
// the group (or cgroup) to empty, reaps the leader, drains the log pumps
// and removes the record. It is used both for stops and after a crash
// (where the SIGTERM reaches whatever the dead leader left behind).
func (o *owner) finish(r *run, killAt time.Time) exitInfo {
	r.stopProbe()
	if err := r.signal(syscall.SIGTERM); err != nil {
		o.log.Warn("signalling the module failed", "err", err)
	}
	if !o.waitGone(r, killAt, o.s.hurry) {
		o.log.Warn(fmt.Sprintf("%s did not exit after SIGTERM — escalating to SIGKILL", o.m.short), "pid", r.pid)
		o.m.sink.Note(fmt.Sprintf("%s did not exit after SIGTERM — escalating to SIGKILL", o.m.short))
		if err := r.signal(syscall.SIGKILL); err != nil {
			o.log.Warn("signalling the module failed", "err", err)
		}
		if !o.waitGone(r, time.Now().Add(killWait), nil) {
			o.log.Error("module processes still alive after SIGKILL", "pgid", r.pid, "cgroup", r.cgroup)
		}
	}
	gone := isClosed(r.leaderExited) && !r.alive()
	if isClosed(r.leaderExited) && !r.reaped {
		r.cmd.Wait() // the zombie leader: returns at once; the status is in ProcessState
		r.reaped = true
	}
	if r.cgroup != "" && gone {
		removeCgroup(r.cgroup, o.log)
	}
	r.stdout.SetReadDeadline(time.Now().Add(drainWait))
	r.stderr.SetReadDeadline(time.Now().Add(drainWait))
	r.pumps.Wait()
	if r.record != "" && gone {
		if err := os.Remove(r.record); err != nil && !errors.Is(err, fs.ErrNotExist) {
			o.log.Warn("removing child record", "err", err)
		}
	}
	return exitOf(r.cmd.ProcessState)
}

// waitGone polls until the leader has exited and its group (or cgroup) has
// no live member (true), or until deadline passes or hurry is closed (false).
func (o *owner) waitGone(r *run, deadline time.Time, hurry <-chan struct{}) bool {
	for interval := 2 * time.Millisecond; ; interval = min(interval*2, 50*time.Millisecond) {
		exited := isClosed(r.leaderExited)
		if exited && !r.alive() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		leaderC := r.leaderExited
		if exited {
			leaderC = nil
		}
		t := time.NewTimer(min(interval, left))
		select {
		case <-leaderC:
		case <-t.C:
		case <-hurry:
			t.Stop()
			return false
		}
		t.Stop()
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// lastLines formats the newest lines of the module's output for an error.
func lastLines(sk *logsink.Sink, n int) string {
	lines := sk.Lines(n)
	if len(lines) == 0 {
		return ""
	}
	return "; last output:\n" + strings.TrimRight(strings.Join(lines, ""), "\n")
}
