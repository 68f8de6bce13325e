// Package atomicfile writes files so that a reader, or a crash, sees either
// the old contents or the new ones, never a torn mix.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically: it creates a temporary file in
// the same directory, writes and fsyncs it, sets perm on it, renames it over
// path and fsyncs the directory so the rename itself is durable.
//
// The temporary name comes from os.CreateTemp (O_EXCL with a random suffix),
// so concurrent writers in different processes never share a temp file; the
// last rename wins. An existing path that is not a regular file (a directory,
// a symlink, a device) is refused rather than replaced.
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	// Why refuse non-regular files: renaming over a symlink replaces the link
	// itself, silently detaching the file from wherever the operator pointed it.
	if fi, serr := os.Lstat(path); serr == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("writing %s: not a regular file (%s)", path, fi.Mode().Type())
	} else if serr != nil && !errors.Is(serr, fs.ErrNotExist) {
		return fmt.Errorf("writing %s: %w", path, serr)
	}

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: creating temp file: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if err != nil && !renamed {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()

	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// Chmod explicitly: CreateTemp uses 0600 and the umask would otherwise
	// narrow any mode passed at creation time.
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: setting mode: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing %s: syncing: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: closing: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: renaming into place: %w", path, err)
	}
	renamed = true
	if serr := syncDir(dir); serr != nil {
		return fmt.Errorf("writing %s: syncing directory: %w", path, serr)
	}
	return nil
}

// syncDir fsyncs a directory so a rename inside it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
