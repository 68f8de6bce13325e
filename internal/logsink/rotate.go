package logsink

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/openparachute/parachute/internal/secfile"
)

// RotatingFile is an append-only log file rotated by size: when the next
// write would push <path> past MaxBytes, <path> becomes <path>.1, <path>.1
// becomes <path>.2 and so on, keeping Files files including the current one.
// Writes are expected to be whole lines; a rotation never splits a line,
// and a single line larger than MaxBytes is written to a file of its own.
//
// The file is opened lazily (creating its directory with mode 0700 and the
// file with 0600: module output can carry secrets) and appended to, so a
// hub restart continues the current file. A symlink or other non-regular
// file at path is refused (secfile.ErrNotRegular), never written through. RotatingFile is not safe for
// concurrent use; a Sink gives it one writer goroutine.
type RotatingFile struct {
	path     string
	maxBytes int64
	files    int

	f    *os.File
	size int64
}

// NewRotatingFile returns a RotatingFile for path. maxBytes <= 0 means 10 MiB
// and files < 1 means 3.
func NewRotatingFile(path string, maxBytes int64, files int) *RotatingFile {
	if maxBytes <= 0 {
		maxBytes = 10 << 20
	}
	if files < 1 {
		files = 3
	}
	return &RotatingFile{path: path, maxBytes: maxBytes, files: files}
}

// Path is the current (unrotated) file.
func (r *RotatingFile) Path() string { return r.path }

// Write appends p, rotating at line boundaries as needed.
func (r *RotatingFile) Write(p []byte) (int, error) {
	if err := r.open(); err != nil {
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		room := r.maxBytes - r.size
		if int64(len(p)) <= room {
			n, err := r.f.Write(p)
			r.size += int64(n)
			return written + n, err
		}
		// The longest run of whole lines that still fits.
		cut := 0
		if room > 0 {
			cut = bytes.LastIndexByte(p[:room], '\n') + 1
		}
		if cut == 0 {
			if r.size > 0 {
				if err := r.rotate(); err != nil {
					return written, err
				}
				continue
			}
			// An empty file and a first line larger than the limit:
			// that line gets the file to itself.
			if cut = bytes.IndexByte(p, '\n') + 1; cut == 0 {
				cut = len(p)
			}
		}
		n, err := r.f.Write(p[:cut])
		r.size += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		p = p[cut:]
	}
	return written, nil
}

func (r *RotatingFile) open() error {
	if r.f != nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return fmt.Errorf("creating log directory: %w", err)
	}
	// Why secfile: a link planted as <short>.log would make a root hub
	// append module output (and its secrets) to whatever it points at.
	f, err := secfile.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("reading log file size: %w", err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// rotate shifts <path>.(n-1) → <path>.n down to <path> → <path>.1 and opens
// a fresh <path>. With Files == 1 the current file is simply truncated.
func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		r.f = nil
		return fmt.Errorf("closing log file for rotation: %w", err)
	}
	r.f = nil
	name := func(i int) string {
		if i == 0 {
			return r.path
		}
		return r.path + "." + strconv.Itoa(i)
	}
	if r.files == 1 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotating log file: %w", err)
		}
	}
	for i := r.files - 1; i >= 1; i-- {
		if err := os.Rename(name(i-1), name(i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotating log file: %w", err)
		}
	}
	return r.open()
}

// Close closes the current file; a later Write reopens it.
func (r *RotatingFile) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("closing log file: %w", err)
	}
	return nil
}
