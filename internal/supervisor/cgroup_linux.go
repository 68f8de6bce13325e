package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Cgroups is the hub's delegated cgroup v2 subtree. Under systemd with
// Delegate=yes the hub's unit cgroup is ours to manage, within one rule:
// cgroup v2 lets only leaves hold processes ("no internal processes"), so
// the hub moves itself into <unit>/hub and starts each module straight into
// <unit>/mod-<short>. A module then cannot leave its cgroup by setsid or a
// double fork, as it can leave its process group: stopping it kills the
// whole cgroup, and the cgroup's counters give its memory and CPU use.
//
// A nil *Cgroups means "process groups only": every method is then a no-op
// and callers fall back to process groups.
type Cgroups struct {
	root string // the unit's cgroup directory, e.g. /sys/fs/cgroup/system.slice/parachute-hub.service
	log  *slog.Logger
}

// DelegatedCgroups detects, once at hub start, whether this process runs in
// a cgroup v2 subtree delegated to it (systemd Delegate=yes marks it with
// the user.delegate/trusted.delegate xattr, or the unit sets DelegationEnv),
// and if so moves
// the hub into <unit>/hub, enables the memory, cpu and pids controllers for
// the module cgroups, and kills whatever a previous hub left in <unit>/mod-*
// cgroups. It returns nil (and no error) when there is no such subtree:
// cgroup v1 only, no systemd, a unit without Delegate=yes, or a read-only
// cgroup file system (ProtectControlGroups=yes). Modules then run in process
// groups, as everywhere outside systemd.
func DelegatedCgroups(logger *slog.Logger) (*Cgroups, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, err := ownCgroupDir()
	if err != nil || dir == "" {
		return nil, err
	}
	root := dir
	switch {
	case filepath.Base(dir) == hubLeaf && delegated(filepath.Dir(dir)):
		root = filepath.Dir(dir) // already moved (a second call, a re-exec)
	case delegated(dir):
	default:
		return nil, nil
	}
	return setupCgroups(root, logger)
}

// setupCgroups takes over root, a delegated cgroup this process is in (or
// in root/hub): see DelegatedCgroups. Tests call it on a cgroup they made.
func setupCgroups(root string, logger *slog.Logger) (*Cgroups, error) {
	c := &Cgroups{root: root, log: logger}
	leaf := filepath.Join(root, hubLeaf)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("creating the hub's cgroup %s: %w", leaf, err)
	}
	if err := writeCgroupFile(filepath.Join(leaf, "cgroup.procs"), strconv.Itoa(os.Getpid())); err != nil {
		return nil, fmt.Errorf("moving the hub into %s: %w", leaf, err)
	}
	// Controllers are optional: without memory the stats fall back to RSS
	// sums, and everything else works with the core cgroup files alone.
	avail, _ := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	for _, ctl := range []string{"memory", "cpu", "pids"} {
		if !bytes.Contains(append(append([]byte(" "), bytes.TrimSpace(avail)...), ' '), []byte(" "+ctl+" ")) {
			continue
		}
		if err := writeCgroupFile(filepath.Join(root, "cgroup.subtree_control"), "+"+ctl); err != nil {
			logger.Debug("cannot enable a cgroup controller for modules", "controller", ctl, "err", err)
		}
	}
	c.reapStale()
	return c, nil
}

// Root returns the delegated cgroup directory ("" for nil).
func (c *Cgroups) Root() string {
	if c == nil {
		return ""
	}
	return c.root
}

// ownCgroupDir returns the cgroup v2 directory of this process, or "" when
// there is no cgroup v2 hierarchy.
func ownCgroupDir() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", nil // no /proc: no cgroups
	}
	rel, ok := "", false
	for _, l := range strings.Split(string(b), "\n") {
		if p, found := strings.CutPrefix(l, "0::"); found {
			rel, ok = p, true
		}
	}
	if !ok || !strings.HasPrefix(rel, "/") || strings.HasSuffix(rel, " (deleted)") {
		return "", nil
	}
	mnt := cgroup2Mount()
	if mnt == "" {
		return "", nil
	}
	return filepath.Join(mnt, rel), nil
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted with its
// root visible: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified
// on a hybrid one.
func cgroup2Mount() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source super
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if !ok || len(fields) < 5 || !strings.HasPrefix(post, "cgroup2 ") || fields[3] != "/" {
			continue
		}
		return unescapeMount(fields[4])
	}
	return ""
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// delegated reports whether dir is a cgroup delegated to us: systemd marks
// it (the xattrs) or our own unit says its cgroup is (DelegationEnv; dir is
// then that cgroup or a module cgroup below it), and we can write it.
// Writability alone is not enough: root can write any cgroup, and
// reorganising a cgroup systemd still manages (a login session's scope,
// say) would fight systemd.
func delegated(dir string) bool {
	marked := unitSaysDelegated()
	for _, attr := range []string{"user.delegate", "trusted.delegate"} {
		buf := make([]byte, 8)
		if n, err := unix.Getxattr(dir, attr, buf); err == nil && string(buf[:n]) == "1" {
			marked = true
		}
	}
	return marked && unix.Access(dir, unix.W_OK) == nil
}

// unitSaysDelegated reports whether our unit declared its cgroup delegated
// (DelegationEnv) and systemd started us (INVOCATION_ID).
func unitSaysDelegated() bool {
	return os.Getenv(DelegationEnv) == "1" && os.Getenv("INVOCATION_ID") != ""
}

// writeCgroupFile writes one value to a cgroup interface file. O_TRUNC is
// not used: cgroup files take each write as a command.
func writeCgroupFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// moduleDir is the cgroup of module short.
func (c *Cgroups) moduleDir(short string) string {
	return filepath.Join(c.root, modPrefix+short)
}

// open creates (or reuses) the module's cgroup and opens it for
// CLONE_INTO_CGROUP. Whatever an earlier run left in it is killed first:
// the subtree is ours alone, so anything in it is a module's leftover.
func (c *Cgroups) open(short string) (dir string, fd int, err error) {
	dir = c.moduleDir(short)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", -1, fmt.Errorf("creating cgroup %s: %w", dir, err)
	}
	if cgroupPopulated(dir) {
		c.log.Warn("killing processes left in a module's cgroup", "cgroup", dir)
		killCgroup(dir)
		waitCgroupEmpty(dir, killWait)
	}
	fd, err = unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", -1, fmt.Errorf("opening cgroup %s: %w", dir, err)
	}
	return dir, fd, nil
}

// reapStale kills and removes every module cgroup in the subtree: at hub
// start they can only be a previous hub's.
func (c *Cgroups) reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(c.root, modPrefix+"*"))
	for _, d := range dirs {
		if cgroupPopulated(d) {
			c.log.Warn("killing a module cgroup left by a previous hub", "cgroup", d)
		}
		if err := reapCgroup(d, killWait, c.log); err != nil {
			c.log.Error("cannot reap a module cgroup left by a previous hub", "err", err)
		}
	}
}

// reapCgroup kills whatever is left in a module cgroup, waits up to wait
// for it to empty and removes it. A cgroup still populated after SIGKILL (a
// process in uninterruptible sleep) is left in place and reported.
func reapCgroup(dir string, wait time.Duration, log *slog.Logger) error {
	if cgroupPopulated(dir) {
		killCgroup(dir)
		if !waitCgroupEmpty(dir, wait) {
			return fmt.Errorf("cgroup %s still has live processes after SIGKILL", dir)
		}
	}
	removeCgroup(dir, log)
	return nil
}

// intoCgroup makes the child start inside the cgroup open as fd (clone3
// with CLONE_INTO_CGROUP, Linux ≥ 5.7): there is no moment at which the
// child, or anything it forks, runs outside it.
func intoCgroup(attr *syscall.SysProcAttr, fd int) {
	attr.UseCgroupFD, attr.CgroupFD = true, fd
}

// closeFD closes a cgroup directory fd.
func closeFD(fd int) { unix.Close(fd) }

// cgroupPopulated reports whether a cgroup (or a descendant) holds a live
// process. Exited, unreaped processes (zombies) do not count. A missing
// cgroup is empty.
func cgroupPopulated(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "populated "); ok {
			return strings.TrimSpace(v) != "0"
		}
	}
	return false
}

// killCgroup SIGKILLs every process in the cgroup and its descendants:
// cgroup.kill (Linux ≥ 5.14) does it atomically, forks in flight included.
// Older kernels get signalCgroup, which lists the cgroup again for
// processes forked meanwhile.
func killCgroup(dir string) {
	err := writeCgroupFile(filepath.Join(dir, "cgroup.kill"), "1")
	if err == nil || !dirExists(dir) {
		return
	}
	signalCgroup(dir, unix.SIGKILL)
}

// signalCgroupRounds bounds how often signalCgroup lists a cgroup again.
const signalCgroupRounds = 5

// signalCgroup sends sig once to each process of the cgroup and its
// descendants and returns how many it signalled, with the errors other than
// "already gone" (EPERM: a process that changed its user).
//
// Why pidfds: a pid read from cgroup.procs may exit and be reused by an
// unrelated process before the kill; a pidfd pins the process, and it is
// signalled only if it is still in the cgroup once pinned. Why rounds:
// unlike kill(-pgid), a listing misses a process forked after it was read,
// so the cgroup is listed again until a listing shows nothing new (at most
// signalCgroupRounds times). Why once: a process seen again, or twice in one
// walk (moving between descendant cgroups), is not signalled again, since
// many runtimes take a second SIGTERM as "quit now" (see run.signal).
func signalCgroup(dir string, sig syscall.Signal) (int, error) {
	n, mnt := 0, cgroup2Mount()
	seen := map[int]bool{}
	var errs []error
	for range signalCgroupRounds {
		fresh := false
		for _, pid := range cgroupPIDs(dir) {
			if seen[pid] {
				continue
			}
			seen[pid], fresh = true, true
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				continue // gone already
			}
			if inCgroup(pid, dir, mnt) {
				switch err := unix.PidfdSendSignal(fd, sig, nil, 0); {
				case err == nil:
					n++
					if signalSent != nil {
						signalSent(pid, sig)
					}
				case !errors.Is(err, unix.ESRCH):
					errs = append(errs, fmt.Errorf("sending %s to pid %d in cgroup %s: %w", unix.SignalName(sig), pid, dir, err))
				}
			}
			unix.Close(fd)
		}
		if !fresh {
			break
		}
	}
	return n, errors.Join(errs...)
}

// inCgroup reports whether pid's cgroup v2 path, under the cgroup2 mount
// mnt, is dir or below it.
func inCgroup(pid int, dir, mnt string) bool {
	own, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(own), "\n") {
		if rel, ok := strings.CutPrefix(l, "0::"); ok {
			p := filepath.Join(mnt, rel)
			return p == dir || strings.HasPrefix(p, dir+"/")
		}
	}
	return false
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// cgroupPIDs lists the processes of a cgroup and its descendants.
func cgroupPIDs(dir string) []int {
	var pids []int
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// waitCgroupEmpty polls until the cgroup has no live process or d passes.
func waitCgroupEmpty(dir string, d time.Duration) bool {
	return pollUntil(d, 2*time.Millisecond, 50*time.Millisecond, func() bool { return !cgroupPopulated(dir) })
}

// removeCgroup removes an empty module cgroup (children first).
func removeCgroup(dir string, log *slog.Logger) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			log.Warn("removing a module cgroup", "cgroup", dirs[i], "err", err)
		}
	}
}

// cgroupUsage reads a cgroup's memory (memory.current; without the memory
// controller, the sum of its processes' RSS) and CPU time (cpu.stat
// usage_usec, which cgroup v2 keeps with or without the cpu controller).
func cgroupUsage(dir string) (Usage, bool) {
	var u Usage
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return Usage{}, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
			usec, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			u.CPU = time.Duration(usec) * time.Microsecond
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "memory.current")); err == nil {
		u.MemoryBytes, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return u, true
	}
	for _, pid := range cgroupPIDs(dir) {
		if st, err := readProc(pid); err == nil {
			u.MemoryBytes += st.RSS
		}
	}
	return u, true
}
