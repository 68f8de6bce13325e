package secfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular means a path is a symlink or otherwise not a regular file
// where a regular file was expected. Errors from this package that refuse a
// file match it with errors.Is.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError names the refused path and what it was.
type NotRegularError struct {
	Path string
	// Kind is what was found: "symlink", "directory", "named pipe", ...,
	// or a short reason such as "hard link" or "owned by uid 1001".
	Kind string
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("refusing %s: it is a %s, not a regular file this user owns — "+
		"secrets and config are never opened through links; inspect it (ls -l %s), "+
		"remove it (rm %s) and restore the real file", e.Path, e.Kind, e.Path, e.Path)
}

// Unwrap makes errors.Is(err, ErrNotRegular) hold.
func (e *NotRegularError) Unwrap() error { return ErrNotRegular }

// OpenFile is os.OpenFile that never follows a symlink in the last path
// component and only returns regular files: a symlink, directory, FIFO,
// socket or device at path is a *NotRegularError (and a FIFO does not block
// the open). Directories earlier in path are resolved as usual.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	// Why O_NONBLOCK: opening a FIFO for reading blocks until a writer
	// appears; with it the open returns and fstat below refuses the FIFO.
	// On regular files the flag has no effect.
	f, err := os.OpenFile(path, flag|oNoFollow|syscall.O_NONBLOCK|syscall.O_CLOEXEC, perm)
	if err != nil {
		if isLoop(err) {
			return nil, &NotRegularError{Path: path, Kind: "symlink"}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("checking %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: path, Kind: kind(fi.Mode())}
	}
	return f, nil
}

// Open opens path read-only, like OpenFile.
func Open(path string) (*os.File, error) { return OpenFile(path, os.O_RDONLY, 0) }

// ReadFile reads a whole file, like os.ReadFile, through Open: a symlink or
// non-regular file is refused with a *NotRegularError; a missing file is an
// error matching fs.ErrNotExist.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// ReadOwned reads a file this process wrote for itself and will act on:
// like ReadFile, but the file must also be owned by the effective user,
// have a single link and be writable by nobody else, and it is read up to
// max bytes. Anything else is refused with a *NotRegularError. Why: a file
// whose contents decide what the hub does as root (which process group to
// kill, say) must not be one a group member could have planted or edited.
func ReadOwned(path string, max int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkOwned(f); err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o022 != 0 {
		return nil, &NotRegularError{Path: path, Kind: fmt.Sprintf("file writable by others (mode %04o)", fi.Mode().Perm())}
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// Check reports whether path is safe to hand to code that opens it by name
// (SQLite): nil when nothing is there or it is a regular file, a
// *NotRegularError for a symlink or any other kind of file. It does not
// follow a symlink at path.
func Check(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return &NotRegularError{Path: path, Kind: kind(fi.Mode())}
	}
	return nil
}

// Restrict sets f's permission bits to mode and, when gid >= 0, its group
// to gid, through the descriptor. It first checks that f is a regular file
// owned by this process's effective user with a single link: a file someone
// else owns, or a hard link to one, is refused rather than given away.
func Restrict(f *os.File, mode os.FileMode, gid int) error {
	if err := checkOwned(f); err != nil {
		return err
	}
	// Why fchown/fchmod on the descriptor: the path may have been swapped
	// since it was opened; the descriptor is the file that was checked.
	if gid >= 0 {
		if err := f.Chown(-1, gid); err != nil {
			return fmt.Errorf("giving %s to group %d: %w", f.Name(), gid, err)
		}
	}
	if err := f.Chmod(mode.Perm()); err != nil {
		return fmt.Errorf("setting the mode of %s to %04o: %w", f.Name(), mode.Perm(), err)
	}
	return nil
}

// Cap clears the permission bits of f outside ceiling (e.g. ceiling 0600
// turns 0644 into 0600 and leaves 0400 alone), through the descriptor, and
// returns the resulting mode. A file already within ceiling is not touched,
// so Cap works on files this user may read but not chmod. Unlike Restrict
// it accepts a file another user owns (root tightening a loose hub.db in
// that user's root only takes access away), but it does not change a file
// with several links.
func Cap(f *os.File, ceiling os.FileMode) (os.FileMode, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("checking %s: %w", f.Name(), err)
	}
	mode := fi.Mode().Perm()
	if mode&^ceiling.Perm() == 0 {
		return mode, nil
	}
	if err := checkSingleLink(f); err != nil {
		return 0, err
	}
	mode &= ceiling.Perm()
	if err := f.Chmod(mode); err != nil {
		return 0, fmt.Errorf("setting the mode of %s to %04o: %w", f.Name(), mode, err)
	}
	return mode, nil
}

// kind names a non-regular file type for messages.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	default:
		return "special file (" + m.Type().String() + ")"
	}
}
