package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ErrUntrustedRoot means the config root, or a file in it that decides what
// the hub runs, can be changed by a user other than the one running the hub
// (or root), and the hub runs as root: it will not start modules from it.
var ErrUntrustedRoot = errors.New("config root can be changed by other users")

// untrustedError lists what is wrong and the commands that fix it.
type untrustedError struct {
	root     string
	problems []string
}

func (e *untrustedError) Error() string {
	return fmt.Sprintf("not starting modules as root from %s: %s", e.root, strings.Join(e.problems, "; "))
}

func (e *untrustedError) Unwrap() error { return ErrUntrustedRoot }

// CheckTrust checks that the config root and services.json, which decide
// what programs the hub starts, can only be changed by the user running the
// hub or by root. Extra names further files in the root to hold to the same
// rule (a module's .env).
//
// A file or directory that every user may write is a problem for anyone;
// one owned by another non-root user is a problem when the hub runs as
// root. Running as root, any problem is an error matching
// ErrUntrustedRoot (the hub must not run modules from it: whoever can
// write there can run code as root); otherwise problems come back as
// warnings. Each problem says which chmod or chown fixes it. Missing files
// are not problems.
func (p Paths) CheckTrust(extra ...string) (warnings []string, err error) {
	return p.checkTrust(os.Geteuid(), extra)
}

func (p Paths) checkTrust(euid int, extra []string) ([]string, error) {
	var problems []string
	check := func(path string, stat func(string) (fs.FileInfo, error)) {
		fi, err := stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("cannot check %s: %v", path, err))
			return
		}
		if msg := trustProblem(path, fi, euid); msg != "" {
			problems = append(problems, msg)
		}
	}
	// The root may be a link to where the operator keeps it: check where
	// it leads. Files inside are opened without following links
	// (internal/secfile), so check them as they are.
	check(p.Root, os.Stat)
	check(p.ServicesJSON(), os.Lstat)
	for _, e := range extra {
		check(e, os.Lstat)
	}
	if len(problems) == 0 {
		return nil, nil
	}
	if euid == 0 {
		return nil, &untrustedError{root: p.Root, problems: problems}
	}
	return problems, nil
}
