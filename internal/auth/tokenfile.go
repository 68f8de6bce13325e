package auth

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/secfile"
)

// noTokenError carries the path and the remedy; errors.Is(err,
// config.ErrNoOperatorToken) holds.
type noTokenError struct {
	path, why string
}

func (e *noTokenError) Error() string {
	return fmt.Sprintf("no operator token at %s%s — run `parachute auth rotate-operator` to mint one", e.path, e.why)
}

func (e *noTokenError) Unwrap() error { return config.ErrNoOperatorToken }

// looseTokenBits are the mode bits ReadTokenFile warns about: group write
// and any access for others. Group read alone (0640) is deliberate: the
// system package lets the parachute group read the token.
const looseTokenBits = 0o027

// maxTokenFile bounds how much of a token file is read: a token is a few
// hundred bytes, and the file may not be what it claims.
const maxTokenFile = 64 << 10

// ReadTokenFile reads a token file and trims surrounding whitespace. A
// missing or empty file is config.ErrNoOperatorToken; a symlink or any other
// non-regular file is refused (secfile.ErrNotRegular), never followed.
// warn is non-empty when the file's mode lets others read it or the group
// write it; the read still succeeds, because failing would lock the
// operator out of every verb.
func ReadTokenFile(path string) (token, warn string, err error) {
	f, err := secfile.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", &noTokenError{path: path}
	}
	if err != nil {
		return "", "", fmt.Errorf("reading operator token: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile))
	if err != nil {
		return "", "", fmt.Errorf("reading operator token: %w", err)
	}
	token = strings.TrimSpace(string(b))
	if token == "" {
		return "", "", &noTokenError{path: path, why: " (the file is empty)"}
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&looseTokenBits != 0 {
		warn = fmt.Sprintf("operator token file at %s has mode %04o (other users can read or change it). "+
			"Run `chmod 0600 %s` to lock it down.", path, fi.Mode().Perm(), path)
	}
	return token, warn, nil
}

// WriteTokenFile atomically replaces path with token plus a newline: it
// writes a temporary file in the same directory with mode 0600, syncs it,
// renames it over path and syncs the directory, so a reader sees either
// the old token or the new one, never a torn file.
//
// When the file being replaced is mode 0640 (the system package's
// "parachute group may read" setup), the new file keeps 0640 and its group;
// if the group cannot be kept it falls back to 0600.
func WriteTokenFile(path, token string) error {
	return writeTokenFile(path, token, false)
}

// writeTokenFile writes like WriteTokenFile; with exclusive set it fails
// with an error matching fs.ErrExist instead of replacing an existing file.
func writeTokenFile(path, token string, exclusive bool) (err error) {
	if token == "" || strings.ContainsAny(token, "\r\n") {
		return errors.New("writing operator token: token is empty or spans lines")
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing operator token: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; chmod anyway so the mode never depends
	// on how the temp file was made.
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("writing operator token: %w", err)
	}
	if !exclusive {
		keepGroupRead(f, path)
	}
	if _, err = f.WriteString(token + "\n"); err != nil {
		return fmt.Errorf("writing operator token: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing operator token: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing operator token: %w", err)
	}
	if exclusive {
		// link(2) fails when the name exists, unlike rename(2): the
		// never-overwrite guarantee holds even against a concurrent writer.
		if err = os.Link(tmp, path); err != nil {
			return fmt.Errorf("writing operator token: %w", err)
		}
		os.Remove(tmp)
	} else if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing operator token: %w", err)
	}
	syncDir(dir)
	return nil
}

// keepGroupRead gives the new file f the 0640 mode and group of the file it
// replaces, when that file is 0640. On any failure f stays 0600.
func keepGroupRead(f *os.File, oldPath string) {
	// Lstat: the mode and group of a symlink's target say nothing about
	// what the operator chose for the token.
	fi, err := os.Lstat(oldPath)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 {
		return
	}
	gid, ok := fileGID(fi)
	if !ok {
		return
	}
	// Why: a group-readable file must belong to the intended group; if the
	// chown is refused the file would be readable by our own (possibly
	// broad) primary group, so it stays 0600 instead.
	if err := f.Chown(-1, gid); err != nil {
		return
	}
	if err := f.Chmod(0o640); err != nil {
		_ = f.Chmod(0o600)
	}
}

// syncDir flushes a directory entry change (the rename) to disk. Failure
// only weakens durability across a power cut, so it is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

// ShareTokenWithGroup makes the token file at path readable by root's group
// (mode 0640, that group) when root is shared with its group and nobody
// else (0750 or 0770), so operators in that group use the CLI without sudo.
// Any other root leaves the file alone; shared reports whether the file is
// now group-readable.
//
// The file is opened without following links and changed through the
// descriptor; a symlink, a hard link or a file another user owns is refused
// with an error matching secfile.ErrNotRegular and left unchanged.
func ShareTokenWithGroup(path, root string) (shared bool, err error) {
	gid, ok := secfile.GroupShared(root)
	if !ok {
		return false, nil
	}
	f, err := secfile.Open(path)
	if err != nil {
		return false, fmt.Errorf("sharing the operator token with the group of %s: %w", root, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm() == 0o640 {
		if g, ok := fileGID(fi); ok && g == gid {
			return true, nil
		}
	}
	if err := secfile.Restrict(f, 0o640, gid); err != nil {
		return false, fmt.Errorf("sharing the operator token with the group of %s: %w", root, err)
	}
	return true, nil
}
