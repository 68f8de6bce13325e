package install

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadPackageName means an npm package name breaks npm's naming rules.
// Such a name never reaches the file system: the installer turns package
// names into directories under the package manager's global root.
var ErrBadPackageName = errors.New("invalid npm package name")

// maxPackageNameLen is npm's limit on a package name, scope included.
const maxPackageNameLen = 214

// excludedPackageNames can never be package names (npm's exclusion list).
var excludedPackageNames = map[string]bool{"node_modules": true, "favicon.ico": true}

// CheckPackageName returns nil when name is a valid name for a new npm
// package, following validate-npm-package-name (validForNewPackages): at
// most 214 characters, lowercase, not starting with "." or "_", no leading
// or trailing spaces, not "node_modules" or "favicon.ico", only URL-safe
// characters, none of ~'!()* in the part after the scope, and an optional
// "@scope/" with exactly one slash. Otherwise the error wraps
// ErrBadPackageName and names every rule the name breaks.
//
// Node's core module names ("http", "fs", …) are also refused by npm for
// new packages; they are allowed here because they are harmless as paths
// and the list changes with every Node release.
//
// Why this matters: a name from an untrusted tarball becomes a directory
// under the global node_modules, and "../../etc" or "@a/../../b" would
// make the installer move and remove directories elsewhere.
func CheckPackageName(name string) error {
	var problems []string
	add := func(p string) { problems = append(problems, p) }
	if name == "" {
		add("it is empty")
	}
	if strings.HasPrefix(name, ".") {
		add(`it starts with "."`)
	}
	if strings.HasPrefix(name, "_") {
		add(`it starts with "_"`)
	}
	if strings.TrimSpace(name) != name {
		add("it has leading or trailing spaces")
	}
	if excludedPackageNames[strings.ToLower(name)] {
		add(fmt.Sprintf("%q is reserved", strings.ToLower(name)))
	}
	if len(name) > maxPackageNameLen {
		add(fmt.Sprintf("it is longer than %d characters", maxPackageNameLen))
	}
	if strings.ToLower(name) != name {
		add("it has capital letters")
	}
	last := name[strings.LastIndex(name, "/")+1:]
	if strings.ContainsAny(last, "~'!()*") {
		add(`it contains one of ~'!()*`)
	}
	if !urlSafe(name) {
		scope, pkg, scoped := splitScope(name)
		switch {
		case !scoped:
			add("it may only contain URL-safe characters (a-z 0-9 - . _ ~ ' ! ( ) *), with one \"/\" only after an @scope")
		case strings.HasPrefix(pkg, "."):
			add(`its name after the scope starts with "."`)
		case !urlSafe(scope) || !urlSafe(pkg):
			add("it may only contain URL-safe characters (a-z 0-9 - . _ ~ ' ! ( ) *), with one \"/\" only after an @scope")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrBadPackageName, truncate(name, 80), strings.Join(problems, "; "))
}

// splitScope splits "@scope/name" into its parts, the way npm's
// scopedPackagePattern (^(?:@([^/]+?)[/])?([^/]+?)$) does: both parts
// non-empty, exactly one slash.
func splitScope(name string) (scope, pkg string, ok bool) {
	rest, ok := strings.CutPrefix(name, "@")
	if !ok {
		return "", "", false
	}
	scope, pkg, ok = strings.Cut(rest, "/")
	if !ok || scope == "" || pkg == "" || strings.Contains(pkg, "/") {
		return "", "", false
	}
	return scope, pkg, true
}

// urlSafe reports whether JavaScript's encodeURIComponent leaves s as it
// is: only ASCII letters, digits and - _ . ! ~ * ' ( ).
func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.!~*'()", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
