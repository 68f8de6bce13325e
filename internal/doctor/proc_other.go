//go:build !linux

package doctor

// parentOf cannot tell without /proc.
func parentOf(int) int { return 0 }

// childArgvs is nil: without /proc doctor cannot list the hub's children.
var childArgvs func(pid int) (map[int][]string, error)
