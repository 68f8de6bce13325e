package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ensureTmpdir creates $TMPDIR (mode 0700) when it is set and missing. The
// container image points TMPDIR at the data volume (bun renames installs
// out of it, and a rename from a tmpfs /tmp into the volume fails with
// EXDEV), and a fresh volume is empty. Anything already there is left as
// it is; an error is for the caller to report, not to stop the hub over.
func ensureTmpdir(dir string) error {
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating TMPDIR %s: %w", dir, err)
	}
	return nil
}
