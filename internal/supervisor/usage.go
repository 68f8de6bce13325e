package supervisor

import "time"

// Usage is what a running module consumes right now.
type Usage struct {
	// MemoryBytes is the module's memory: its cgroup's memory.current
	// (page cache and kernel memory included), or without the memory
	// controller the summed resident set of the cgroup's processes, or
	// without a cgroup the resident set of the module's main process.
	MemoryBytes int64
	// CPU is the CPU time used: the cgroup's total (exited descendants
	// included), or without a cgroup the main process's user+system time.
	CPU time.Duration
}

// Usage returns the resource use of a running module; ok is false for a
// module that is not running or where usage is unknown (no cgroup and no
// /proc).
func (s *Supervisor) Usage(short string) (u Usage, ok bool) {
	st, found := s.Get(short)
	if !found {
		return Usage{}, false
	}
	return usageOf(st)
}

// UsageAll returns the usage of every running module whose usage is
// known, by short name.
func (s *Supervisor) UsageAll() map[string]Usage {
	out := map[string]Usage{}
	for _, st := range s.List() {
		if u, ok := usageOf(st); ok {
			out[st.Short] = u
		}
	}
	return out
}

// usageOf reads the usage of the process or cgroup in a State snapshot.
// Without a cgroup it reads the main process only: summing its whole
// process group would mean reading every process on the machine on every
// status call. A pid reused meanwhile could make this informational figure
// wrong for one read; it is never acted on.
func usageOf(st State) (Usage, bool) {
	switch {
	case st.PID == 0:
		return Usage{}, false
	case st.Cgroup != "":
		return cgroupUsage(st.Cgroup)
	case !haveProcUsage:
		return Usage{}, false
	}
	p, err := readProc(st.PID)
	if err != nil || p.Zombie {
		return Usage{}, false
	}
	return Usage{MemoryBytes: p.RSS, CPU: p.CPU}, true
}

// hubLeaf and modPrefix name the hub's own leaf and the modules' cgroups
// inside a delegated cgroup subtree (cgroup_linux.go).
const (
	hubLeaf   = "hub"
	modPrefix = "mod-"
)

// DelegationEnv is set to "1" by the hub's unit next to Delegate=yes (see
// internal/unit). Why: systemd 252's system manager marks a delegated
// cgroup with the user.delegate and trusted.delegate xattrs, but its user
// manager marks nothing, and there every cgroup of the user is writable by
// the user, delegated or not; only the unit itself can say so. Read on
// Linux only; defined here so modops can name it on every platform.
const DelegationEnv = "PARACHUTE_CGROUP_DELEGATED"
