//go:build unix && !linux && !darwin

package supervisor

// readProc cannot inspect processes here, so ReapStale refuses to kill.
func readProc(int) (procStat, error) { return procStat{}, errProcUnsupported }

// groupMembers cannot list groups here; groupAlive falls back to kill(-pgid, 0).
func groupMembers(int) ([]procStat, error) { return nil, errProcUnsupported }

// haveProcUsage says readProc fills RSS and CPU: not here.
const haveProcUsage = false
