package state

import (
	"os"
	"path/filepath"
	"sync"
)

// Watcher serves the exposed origins to the hub, which asks on every
// request (the Host guard and token verification): it re-reads
// expose-state.json only when the file was replaced (Save renames a new
// inode into place) or its size or mtime changed, so an exposure made by
// the CLI while the hub runs takes effect at once without a parse per
// request. The inode is compared because two saves within one tick of a
// coarse filesystem clock can leave size and mtime unchanged.
type Watcher struct {
	path string

	mu       sync.Mutex  // guards the fields that follow
	fi       os.FileInfo // the file last read; nil when it was missing
	origins  []string
	override string
	err      error
}

// NewWatcher watches expose-state.json under root.
func NewWatcher(root string) *Watcher { return &Watcher{path: filepath.Join(root, StateFile)} }

// Origins returns the live exposures' origins (State.Origins). A missing
// file gives none; a malformed one gives none and Err reports it.
func (w *Watcher) Origins() []string {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refresh()
	return w.origins
}

// Override returns the live exposures' --hub-origin (State.Override), ""
// when none; it follows the file as Origins does.
func (w *Watcher) Override() string {
	if w == nil {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refresh()
	return w.override
}

// refresh re-reads the file when it changed; w.mu is held.
func (w *Watcher) refresh() {
	fi, statErr := os.Lstat(w.path)
	if statErr != nil {
		w.fi, w.origins, w.override, w.err = nil, nil, "", nil
		return
	}
	if w.fi != nil && os.SameFile(w.fi, fi) && fi.Size() == w.fi.Size() && fi.ModTime().Equal(w.fi.ModTime()) {
		return
	}
	w.fi = fi
	st, err := Load(filepath.Dir(w.path))
	if err != nil {
		w.origins, w.override, w.err = nil, "", err
		return
	}
	w.origins, w.override, w.err = st.Origins(), st.Override(), nil
}

// Err is the error from the last read, if the file was unreadable.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
