// Package lazyre is a regular expression compiled on first use.
//
// Go runs every package-level initialiser of the binary on every exec,
// whatever the verb: a package-level regexp.MustCompile makes `parachute
// status` compile (and allocate heap pages for) patterns that only
// `install` or `unit` ever match. Declared as
//
//	var nameRE = &lazyre.Regexp{Expr: `^[a-z]+$`}
//
// the variable is laid out by the linker and costs nothing at start-up.
package lazyre

import (
	"regexp"
	"sync"
)

// Regexp is a pattern compiled the first time it is matched. The zero
// value is unusable; set Expr. Safe for concurrent use.
type Regexp struct {
	// Expr is the pattern. An invalid one panics on first use, as
	// regexp.MustCompile would at start-up; the users' tests match each.
	Expr string

	once sync.Once
	re   *regexp.Regexp
}

// Compiled returns the compiled pattern, compiling it on the first call.
func (r *Regexp) Compiled() *regexp.Regexp {
	r.once.Do(func() { r.re = regexp.MustCompile(r.Expr) })
	return r.re
}

// MatchString reports whether s contains a match of the pattern.
func (r *Regexp) MatchString(s string) bool { return r.Compiled().MatchString(s) }
