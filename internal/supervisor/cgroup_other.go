//go:build !linux

package supervisor

import (
	"errors"
	"log/slog"
	"syscall"
	"time"
)

// Cgroups is Linux's delegated cgroup subtree; elsewhere there is none and
// modules always run in process groups.
type Cgroups struct{}

// DelegatedCgroups returns nil: no cgroups outside Linux.
func DelegatedCgroups(*slog.Logger) (*Cgroups, error) { return nil, nil }

// Root returns "".
func (c *Cgroups) Root() string { return "" }

func (c *Cgroups) open(string) (string, int, error) { return "", -1, errors.New("no cgroups here") }

func intoCgroup(*syscall.SysProcAttr, int)                 {}
func closeFD(int)                                          {}
func cgroupPopulated(string) bool                          { return false }
func killCgroup(string)                                    {}
func signalCgroup(string, syscall.Signal) (int, error)     { return 0, nil }
func waitCgroupEmpty(string, time.Duration) bool           { return true }
func reapCgroup(string, time.Duration, *slog.Logger) error { return nil }
func removeCgroup(string, *slog.Logger)                    {}
func cgroupUsage(string) (Usage, bool)                     { return Usage{}, false }
func delegated(string) bool                                { return false }
