package supervisor

import "time"

// Usage is what a running module consumes right now.
type Usage struct {
	// MemoryBytes is the module's memory: its cgroup's memory.current
	// (page cache and kernel memory included), or without a cgroup
	// controller the summed resident set of its processes.
	MemoryBytes int64
	// CPU is the CPU time its processes have used: the cgroup's total
	// (exited descendants included), or without a cgroup the user+system
	// time of the live members of its process group.
	CPU time.Duration
}

// Usage returns the resource use of a running module: from its cgroup when
// it has one, else from the live members of its process group (Linux). ok
// is false for a module that is not running or where usage is unknown.
func (s *Supervisor) Usage(short string) (u Usage, ok bool) {
	st, found := s.Get(short)
	if !found || st.PID == 0 {
		return Usage{}, false
	}
	if st.Cgroup != "" {
		return cgroupUsage(st.Cgroup)
	}
	if !haveProcUsage {
		return Usage{}, false
	}
	// The group id is the (possibly just exited) leader's pid: a reused id
	// could at worst make this informational figure wrong for one read.
	members, err := groupMembers(st.PID)
	if err != nil || len(members) == 0 {
		return Usage{}, false
	}
	for _, m := range members {
		u.MemoryBytes += m.RSS
		u.CPU += m.CPU
	}
	return u, true
}

// UsageAll returns the usage of every running module whose usage is known,
// by short name. It lists processes at most once however many modules run
// in process groups, so a status call stays cheap.
func (s *Supervisor) UsageAll() map[string]Usage {
	out := map[string]Usage{}
	byGroup := map[int]string{} // pgid → short, for modules without a cgroup
	for _, st := range s.List() {
		switch {
		case st.PID == 0:
		case st.Cgroup != "":
			if u, ok := cgroupUsage(st.Cgroup); ok {
				out[st.Short] = u
			}
		default:
			byGroup[st.PID] = st.Short
		}
	}
	if len(byGroup) == 0 || !haveProcUsage {
		return out
	}
	procs, err := liveProcs()
	if err != nil {
		return out
	}
	for _, p := range procs {
		if short, ok := byGroup[p.PGID]; ok {
			u := out[short]
			u.MemoryBytes += p.RSS
			u.CPU += p.CPU
			out[short] = u
		}
	}
	return out
}

// hubLeaf and modPrefix name the hub's own leaf and the modules' cgroups
// inside a delegated cgroup subtree (cgroup_linux.go).
const (
	hubLeaf   = "hub"
	modPrefix = "mod-"
)
