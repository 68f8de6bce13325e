//go:build !linux

package ports

// HolderOf cannot look up socket owners on this platform without external
// tools; callers fall back to "another process".
func HolderOf(port int) (Holder, bool) { return Holder{}, false }
