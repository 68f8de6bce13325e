package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/openparachute/parachute/internal/atomicfile"
	"github.com/openparachute/parachute/internal/secfile"
)

// Update changes services.json under an exclusive lock: it takes an flock on
// <path>.lock (waiting for other writers, in this or any process), loads the
// file strictly, calls fn, validates the result, writes it atomically if it
// changed, and unlocks.
//
// If the current file is malformed, Update returns the *ManifestError and
// leaves the file untouched. If fn returns an error or the result breaks a
// rule (a bad row, a duplicate port), nothing is written. A new file gets
// mode 0600; an existing file keeps its mode (and, when running as root, its
// owner). A missing file that fn leaves empty is not created. Rows a
// strict read drops (retired modules, short-name twins) are absent from the
// written file; fn can see why in f.Warnings.
func Update(path string, fn func(*File) error) error {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()

	old, err := secfile.ReadFile(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	f := &File{}
	if exists {
		if f, err = Parse(old, path); err != nil {
			return err
		}
	}
	if err := fn(f); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return &ManifestError{Path: path, Msg: err.Error(), Err: err}
	}
	if !exists && len(f.Services) == 0 && len(f.Extra) == 0 {
		return nil
	}
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	if exists && bytes.Equal(data, old) {
		return nil
	}
	return writeKeepingMode(path, data)
}

// writeKeepingMode writes data atomically, keeping an existing file's mode
// and owner; a new file gets 0600.
func writeKeepingMode(path string, data []byte) error {
	perm := os.FileMode(0o600)
	fi, statErr := os.Lstat(path)
	if statErr == nil {
		perm = fi.Mode().Perm()
	}
	if err := atomicfile.WriteFile(path, data, perm); err != nil {
		return err
	}
	// Why: `sudo parachute install` rewrites the operator's registry; the
	// rename leaves a root-owned file the operator's own hub cannot rewrite.
	if st, ok := statOwner(fi, statErr); ok && os.Geteuid() == 0 {
		// Lchown: should the name have been swapped for a link since the
		// rename, the link changes owner, never what it points at.
		if err := os.Lchown(path, st.uid, st.gid); err != nil {
			return fmt.Errorf("restoring owner of %s: %w", path, err)
		}
	}
	return nil
}

type owner struct{ uid, gid int }

func statOwner(fi os.FileInfo, err error) (owner, bool) {
	if err != nil {
		return owner{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return owner{}, false
	}
	return owner{int(st.Uid), int(st.Gid)}, true
}

// lockFile takes an exclusive flock on path, creating it (0600) and its
// directory (0700) if needed, and returns the function that releases it.
// The lock file is never removed: removing it would let a waiter lock an
// unlinked inode while a newcomer locks a fresh file.
func lockFile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	// Why secfile: a link planted as the lock would make a root
	// `parachute install` create or open any file it points at.
	f, err := secfile.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// Closing the descriptor releases the flock.
	return func() { f.Close() }, nil
}

// Upsert replaces the row with s.Name, or appends s. The merged set must
// keep ports unique. When s.Extra is nil, the unknown fields of the row it
// replaces are kept; a non-nil s.Extra (even empty) replaces them.
func Upsert(path string, s Service) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("registering %q in %s: %w", s.Name, path, err)
	}
	return Update(path, func(f *File) error {
		for i := range f.Services {
			if f.Services[i].Name == s.Name {
				if s.Extra == nil {
					s.Extra = f.Services[i].Extra
				}
				f.Services[i] = s
				return nil
			}
		}
		f.Services = append(f.Services, s)
		return nil
	})
}

// Remove deletes every row named name and reports whether one existed. A
// missing file stays missing.
func Remove(path, name string) (bool, error) {
	found := false
	err := Update(path, func(f *File) error {
		kept := f.Services[:0]
		for _, s := range f.Services {
			if s.Name == name {
				found = true
				continue
			}
			kept = append(kept, s)
		}
		f.Services = kept
		return nil
	})
	return found, err
}

// SetStartError records e as the lastStartError of the row named name and
// reports whether the row exists (nothing is written when it does not).
func SetStartError(path, name string, e StartError) (bool, error) {
	if err := e.validate(); err != nil {
		return false, fmt.Errorf("recording start error for %q: %w", name, err)
	}
	return updateRow(path, name, func(s *Service) { s.LastStartError = &e })
}

// ClearStartError removes the lastStartError of the row named name and
// reports whether the row exists.
func ClearStartError(path, name string) (bool, error) {
	return updateRow(path, name, func(s *Service) { s.LastStartError = nil })
}

func updateRow(path, name string, change func(*Service)) (bool, error) {
	found := false
	err := Update(path, func(f *File) error {
		for i := range f.Services {
			if f.Services[i].Name == name {
				change(&f.Services[i])
				found = true
			}
		}
		return nil
	})
	return found, err
}
