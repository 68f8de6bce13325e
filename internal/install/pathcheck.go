package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutsidePrefix means a path the installer computed would leave the
// directory it belongs to (the package manager's global root).
var ErrOutsidePrefix = errors.New("path escapes its prefix")

// within reports whether p is strictly inside root, comparing cleaned
// paths lexically ("/a/b" is never inside "/a/bc", and root is not inside
// itself).
func within(root, p string) bool {
	if root == "" || p == "" {
		return false
	}
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(p))
	return err == nil && rel != "." && rel != ".." &&
		!strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// checkInside returns nil when p, a path the installer is about to move,
// create or remove, lies strictly inside root both as written and after
// resolving the symlinks in the existing part of p's parent. The last
// element of p may itself be a symlink (npm link puts one there): rename
// and RemoveAll act on the link, never on what it points to.
//
// Why resolve the parent: a symlinked <root>/@scope pointing at /srv
// passes the lexical check, yet <root>/@scope/victim is /srv/victim. Both
// root and p are resolved, so a prefix that is itself a symlink (a common
// Homebrew layout) still matches.
func checkInside(root, p string) error {
	if !filepath.IsAbs(root) || !filepath.IsAbs(p) {
		return fmt.Errorf("%w: %s is not an absolute path inside %s", ErrOutsidePrefix, p, root)
	}
	if !within(root, p) {
		return fmt.Errorf("%w: %s is not inside %s", ErrOutsidePrefix, p, root)
	}
	realRoot, err := resolveExisting(root)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", root, err)
	}
	parent, err := resolveExisting(filepath.Dir(filepath.Clean(p)))
	if err != nil {
		return fmt.Errorf("resolving the parent of %s: %w", p, err)
	}
	if real := filepath.Join(parent, filepath.Base(p)); !within(realRoot, real) {
		return fmt.Errorf("%w: %s resolves to %s (through a symlink), which is not inside %s", ErrOutsidePrefix, p, real, realRoot)
	}
	return nil
}

// resolveExisting resolves the symlinks in the longest existing prefix of
// the absolute path p and appends the rest unchanged. A dangling symlink
// in p is an error: where it would lead once its target appears is
// unknown.
func resolveExisting(p string) (string, error) {
	p = filepath.Clean(p)
	rest := ""
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			if rest == "" {
				return r, nil
			}
			// p resolves but p/<first of rest> did not: it is either
			// absent (fine) or a link to nowhere (refused).
			first := strings.SplitN(rest, string(filepath.Separator), 2)[0]
			if _, lerr := os.Lstat(filepath.Join(r, first)); lerr == nil {
				return "", fmt.Errorf("%s is a dangling symlink", filepath.Join(p, first))
			}
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// realpath is p with its symlinks resolved, or p cleaned when it does not
// resolve.
func realpath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}
