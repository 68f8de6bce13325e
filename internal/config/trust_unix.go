//go:build unix

package config

import (
	"fmt"
	"io/fs"
	"syscall"
)

// trustProblem says what lets another user change path, and the command
// that stops it, or "" when nothing does.
func trustProblem(path string, fi fs.FileInfo, euid int) string {
	perm := fi.Mode().Perm()
	// Why not exempt the sticky bit (/tmp's 1777): it stops others from
	// replacing existing entries, not from creating services.json or a
	// module directory before the hub does.
	if perm&0o002 != 0 {
		return fmt.Sprintf("%s is writable by every user (mode %04o) — run `chmod o-w %s`", path, perm, path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || euid != 0 {
		return ""
	}
	if uid := int(st.Uid); uid != 0 {
		return fmt.Sprintf("%s is owned by uid %d, not root — run `chown root %s`, "+
			"or run the hub as that user instead of root", path, uid, path)
	}
	return ""
}
