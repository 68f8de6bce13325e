//go:build unix

package secfile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// oNoFollow makes open(2) fail with ELOOP when the last path component is
// a symlink.
const oNoFollow = syscall.O_NOFOLLOW

// isLoop reports whether an open failed because of O_NOFOLLOW: Linux and
// macOS report ELOOP, FreeBSD EMLINK.
func isLoop(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)
}

// checkOwned refuses a descriptor whose file is not a regular file owned by
// the effective user with a single link.
func checkOwned(f *os.File) error { return checkFile(f, true) }

// checkSingleLink refuses a descriptor whose file is not a regular file
// with a single link, whoever owns it.
func checkSingleLink(f *os.File) error { return checkFile(f, false) }

func checkFile(f *os.File, owned bool) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("checking %s: %w", f.Name(), err)
	}
	if !fi.Mode().IsRegular() {
		return &NotRegularError{Path: f.Name(), Kind: kind(fi.Mode())}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if owned && int(st.Uid) != os.Geteuid() {
		return &NotRegularError{Path: f.Name(), Kind: fmt.Sprintf("file owned by uid %d", st.Uid)}
	}
	// Why: O_NOFOLLOW does not see hard links. A second name for this
	// inode may be a file somewhere else the operator never meant to share
	// or lock down.
	if st.Nlink > 1 {
		return &NotRegularError{Path: f.Name(), Kind: fmt.Sprintf("hard link (%d names)", st.Nlink)}
	}
	return nil
}

// GroupShared reports whether dir is shared with its group and nobody else
// (mode 0750 or 0770: the system package makes /var/lib/parachute 0750
// parachute:parachute), and returns that group. A symlink to a directory
// is followed: it is the operator's choice of where the root lives.
func GroupShared(dir string) (gid int, ok bool) {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return 0, false
	}
	perm := fi.Mode().Perm()
	st, isUnix := fi.Sys().(*syscall.Stat_t)
	if !isUnix || perm&0o050 != 0o050 || perm&0o007 != 0 {
		return 0, false
	}
	return int(st.Gid), true
}
