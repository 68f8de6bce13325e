package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openparachute/parachute/internal/secfile"
)

// recordExt names the file, <RunDir>/<short>.hubchild, that records a
// running child so the next hub can reap it if this one dies without
// stopping it.
const recordExt = ".hubchild"

// childRecord is the JSON of a .hubchild file.
type childRecord struct {
	PID               int      `json:"pid"`
	PGID              int      `json:"pgid"`
	StartTimeTicks    uint64   `json:"start_time_ticks"` // procStat.Start of the child; 0 = unknown
	SID               int      `json:"sid"`              // the child's session (the hub's)
	Argv              []string `json:"argv"`
	HubPID            int      `json:"hub_pid"`
	HubStartTimeTicks uint64   `json:"hub_start_time_ticks"` // procStat.Start of the hub; 0 = unknown
	Cgroup            string   `json:"cgroup,omitempty"`     // the child's cgroup directory; "" = none
}

// self is this hub's own pid and start stamp, read once.
var self = sync.OnceValue(func() procStat {
	st, err := readProc(os.Getpid())
	if err != nil {
		return procStat{PID: os.Getpid()}
	}
	return st
})

// writeRecord writes rec atomically (temp file, fsync, rename) to path.
func writeRecord(path string, rec childRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding child record: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating run directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hubchild-*")
	if err != nil {
		return fmt.Errorf("writing child record: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing child record %s: %w", path, err)
	}
	return nil
}

// How long ReapStale gives a stale group after SIGTERM, and after SIGKILL.
const (
	reapTermWait = 2 * time.Second
	reapKillWait = 2 * time.Second
)

// ReapStale finds the child records (<runDir>/*.hubchild) left by a previous
// hub and kills the process groups they name, so a module orphaned by a hub
// that died without stopping it no longer holds its port. It kills only what
// it can prove is that hub's child:
//   - the recorded leader is alive and its start time matches the record
//     (a different start time means the pid was reused: refuse); or
//   - the leader is gone but its group lives on (grandchildren), and every
//     live member is in the recorded session and started no earlier than the
//     leader. (While any member lives the group id cannot be reused.)
//
// Where start times cannot be read it refuses to kill. A record whose hub is
// still running (another hub) is left alone and reported as an error. Every
// other record is removed. killed reports whether any group was signalled.
func ReapStale(runDir string, logger *slog.Logger) (killed bool, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	paths, err := filepath.Glob(filepath.Join(runDir, "*"+recordExt))
	if err != nil {
		return false, fmt.Errorf("listing child records in %s: %w", runDir, err)
	}
	var errs []error
	for _, p := range paths {
		k, keep, err := reapOne(p, logger)
		killed = killed || k
		if err != nil {
			errs = append(errs, err)
		}
		if !keep {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing child record: %w", err))
			}
		}
	}
	return killed, errors.Join(errs...)
}

func reapOne(path string, logger *slog.Logger) (killed, keep bool, err error) {
	// The record decides which process group or cgroup a (possibly root)
	// hub kills: only one this user wrote and nobody else can change counts.
	b, err := secfile.ReadOwned(path, 64<<10)
	if errors.Is(err, secfile.ErrNotRegular) {
		logger.Warn("ignoring a child record this hub's user did not write or others can change; removing it", "path", path, "err", err)
		return false, false, nil
	}
	if err != nil {
		return false, true, fmt.Errorf("reading child record: %w", err)
	}
	var rec childRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.PID <= 1 || rec.PGID <= 1 {
		logger.Warn("removing unreadable child record", "path", path)
		return false, false, nil
	}
	log := logger.With("path", path, "pid", rec.PID, "pgid", rec.PGID, "argv", strings.Join(rec.Argv, " "))

	me := self()
	if rec.HubPID == me.PID && (rec.HubStartTimeTicks == 0 || rec.HubStartTimeTicks == me.Start) {
		return false, true, nil // this hub's own child
	}
	if rec.HubStartTimeTicks != 0 {
		if hub, err := readProc(rec.HubPID); err == nil && !hub.Zombie && hub.Start == rec.HubStartTimeTicks {
			return false, true, fmt.Errorf("child record %s belongs to hub pid %d, which is still running", path, rec.HubPID)
		}
	}

	if rec.Cgroup != "" {
		// Every process the child forked started inside its cgroup and
		// cannot leave a delegated subtree on its own: the cgroup is the
		// whole of what is left, with no pid or group id to verify.
		if !cgroupPopulated(rec.Cgroup) {
			return false, false, nil
		}
		if !strings.HasPrefix(filepath.Base(rec.Cgroup), modPrefix) || !delegated(filepath.Dir(rec.Cgroup)) {
			log.Warn("recorded cgroup is not a module cgroup of a delegated subtree; not killing it", "cgroup", rec.Cgroup)
			return false, false, nil
		}
		log.Warn("killing module cgroup left by a previous hub", "cgroup", rec.Cgroup)
		return true, false, reapCgroup(rec.Cgroup, reapKillWait, logger)
	}

	leader, err := readProc(rec.PID)
	switch {
	case errors.Is(err, errProcUnsupported):
		log.Warn("cannot verify a stale child on this platform; not killing it")
		return false, false, nil
	case err == nil && !leader.Zombie:
		if rec.StartTimeTicks == 0 || leader.Start != rec.StartTimeTicks {
			log.Info("recorded pid now belongs to another process; not killing it")
			return false, false, nil
		}
	case err == nil || errors.Is(err, errNoProcess):
		// The leader is gone (or a zombie awaiting its reaper); look for
		// what is left of its group.
		members, merr := groupMembers(rec.PGID)
		if merr != nil {
			log.Warn("cannot list the stale group; not killing it", "err", merr)
			return false, false, nil
		}
		if len(members) == 0 {
			return false, false, nil
		}
		for _, m := range members {
			if rec.StartTimeTicks == 0 || m.SID != rec.SID || m.Start < rec.StartTimeTicks {
				log.Info("process group id now belongs to other processes; not killing it", "member", m.PID)
				return false, false, nil
			}
		}
	default:
		return false, true, fmt.Errorf("inspecting stale child %d: %w", rec.PID, err)
	}

	log.Warn("killing module process group left by a previous hub")
	if err := stopGroup(rec.PGID); err != nil {
		return true, false, err
	}
	return true, false, nil
}

// stopGroup sends SIGTERM to a group, waits briefly, then SIGKILLs it and
// waits for it to be gone. Used only for groups verified by ReapStale.
func stopGroup(pgid int) error {
	if err := signalGroup(pgid, syscall.SIGTERM, nil); err != nil {
		return err
	}
	if waitGroupGone(pgid, reapTermWait) {
		return nil
	}
	if err := signalGroup(pgid, syscall.SIGKILL, nil); err != nil {
		return err
	}
	if !waitGroupGone(pgid, reapKillWait) {
		return fmt.Errorf("process group %d still has live members after SIGKILL", pgid)
	}
	return nil
}

// waitGroupGone polls until group pgid has no live member or d passes.
func waitGroupGone(pgid int, d time.Duration) bool {
	return pollUntil(d, 5*time.Millisecond, 100*time.Millisecond, func() bool { return !groupAlive(pgid) })
}

// pollUntil calls done with an interval doubling from first to max until
// it reports true (then true) or d passes (then false). It is for kernel
// state that has no wake-up (a process group or cgroup emptying), never
// for synchronising goroutines.
func pollUntil(d, first, max time.Duration, done func() bool) bool {
	deadline := time.Now().Add(d)
	for interval := first; ; interval = min(interval*2, max) {
		if done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
