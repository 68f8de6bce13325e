package selfupdate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// smokeTimeout bounds `<new binary> version --json`.
const smokeTimeout = 15 * time.Second

// maxBinaryBytes caps the size of a new binary (the hub is ~30 MB); a
// larger file is not a parachute binary.
const maxBinaryBytes = 512 << 20

// ErrSmokeTest means the new binary did not run `version --json` cleanly.
var ErrSmokeTest = errors.New("new binary failed its smoke test")

// VersionOf runs `<bin> version --json` and returns the version it
// reports. It is the smoke test: a binary that cannot do this much is not
// installed.
func VersionOf(ctx context.Context, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, smokeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "version", "--json")
	cmd.Env = os.Environ()
	out, err := cmd.Output()
	if err != nil {
		detail := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			detail += ": " + strings.TrimSpace(lastLine(string(ee.Stderr)))
		}
		return "", fmt.Errorf("%w: `%s version --json`: %s", ErrSmokeTest, bin, detail)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("%w: `%s version --json` printed no version (%q)", ErrSmokeTest, bin, truncate(string(out), 200))
	}
	return v.Version, nil
}

// Staged is a new binary copied next to the one it will replace and
// smoke-tested, not yet in place.
type Staged struct {
	// Target is the binary to replace; Temp the staged copy beside it.
	Target, Temp string
	// Version is what the staged binary reports.
	Version string
}

// Stage copies newBin into a temporary file in target's directory (so the
// swap is a rename on one file system) with target's mode, and smoke-tests
// the copy. Discard the result with Abort, or put it in place with Swap.
func Stage(ctx context.Context, target, newBin string) (*Staged, error) {
	fi, err := os.Stat(target)
	if err != nil {
		return nil, fmt.Errorf("reading the current binary: %w", err)
	}
	nf, err := os.Stat(newBin)
	if err != nil {
		return nil, fmt.Errorf("reading the new binary: %w", err)
	}
	if !nf.Mode().IsRegular() {
		return nil, fmt.Errorf("new binary %s is not a regular file", newBin)
	}
	if nf.Size() > maxBinaryBytes {
		return nil, fmt.Errorf("new binary %s is %d bytes, over the %d-byte limit", newBin, nf.Size(), maxBinaryBytes)
	}
	tmp, err := copyBeside(target, newBin, fi.Mode().Perm()|0o100)
	if err != nil {
		return nil, err
	}
	v, err := VersionOf(ctx, tmp)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return &Staged{Target: target, Temp: tmp, Version: v}, nil
}

// Abort removes the staged copy.
func (s *Staged) Abort() { os.Remove(s.Temp) }

// Swap keeps the current binary as <target>.old and renames the staged one
// over target, atomically: at no moment is there no binary at target.
func (s *Staged) Swap() (backup string, err error) {
	backup = s.Target + ".old"
	if err := os.Remove(backup); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("removing an old backup %s: %w", backup, err)
	}
	// A hard link keeps the old binary without copying it; a file system
	// without hard links gets a copy.
	if err := os.Link(s.Target, backup); err != nil {
		fi, serr := os.Stat(s.Target)
		if serr != nil {
			return "", fmt.Errorf("keeping %s: %w", s.Target, serr)
		}
		if err := copyFile(s.Target, backup, fi.Mode().Perm()); err != nil {
			return "", fmt.Errorf("keeping %s as %s: %w", s.Target, backup, err)
		}
	}
	if err := os.Rename(s.Temp, s.Target); err != nil {
		return "", fmt.Errorf("replacing %s: %w", s.Target, err)
	}
	return backup, nil
}

// Restore renames backup over target, putting the previous binary back.
func Restore(target, backup string) error {
	if err := os.Rename(backup, target); err != nil {
		return fmt.Errorf("restoring %s from %s: %w", target, backup, err)
	}
	return nil
}

// copyBeside copies src into a new temp file in dst's directory.
func copyBeside(dst, src string, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".new-*")
	if err != nil {
		return "", fmt.Errorf("staging the new binary next to %s: %w", dst, err)
	}
	name := f.Name()
	f.Close()
	if err := copyFile(src, name, mode); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.LimitReader(in, maxBinaryBytes+1)); err != nil {
		out.Close()
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
