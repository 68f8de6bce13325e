//go:build !linux

package reaper

// Run is Linux-only; elsewhere it returns ErrUnsupported.
func Run(path string, argv []string) (int, error) { return 1, ErrUnsupported }
