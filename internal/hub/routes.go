package hub

import (
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/mounts"
	"github.com/openparachute/parachute/internal/secfile"
)

// routeTable caches the routable rows of services.json for the proxy and
// the discovery document. Every request stats the file (one syscall); the
// file is parsed again only when its identity (device, inode, size, mtime)
// has changed, so a module installed a moment ago is routable on the very
// next request without every request paying a JSON parse.
//
// Why stat and not fsnotify: installs replace services.json by rename,
// which changes the inode, so a stat sees every write the hub's own code
// makes; and a per-request stat needs no watcher goroutine to own.
//
// A rewrite that is not valid JSON (a hand edit in progress, a truncated
// copy) keeps the last good table, and is logged once per version of the
// file rather than on every request.
type routeTable struct {
	path string
	load func() (*manifest.File, []string)
	log  *slog.Logger

	mu     sync.Mutex // guards the fields that follow
	key    fileKey    // identity of the file f was read from
	f      *manifest.File
	loaded bool
	bad    bool    // badKey is set
	badKey fileKey // identity of the last malformed version (logged once)
}

// fileKey identifies one version of a file.
type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
	missing  bool
}

// newRouteTable caches what load returns for the file at path. load is
// modops.Manager.Routable without its refusals (those are logged at boot).
func newRouteTable(path string, routable func() (*manifest.File, []mounts.Refusal, []string), log *slog.Logger) *routeTable {
	return &routeTable{path: path, log: log, load: func() (*manifest.File, []string) {
		f, _, warns := routable()
		return f, warns
	}}
}

// get returns the current routable rows. The result is shared: callers must
// not modify it.
func (t *routeTable) get() *manifest.File {
	key := statKey(t.path)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loaded && (key == t.key || t.bad && key == t.badKey) {
		return t.f
	}
	if !key.missing && t.loaded {
		data, err := secfile.ReadFile(t.path)
		if err == nil && !json.Valid(data) {
			// Logged once per malformed version: the check above returns
			// early while the file stays as it is.
			t.bad, t.badKey = true, key
			t.log.Warn("services.json is not valid JSON; routing with the last good copy until it is fixed",
				"path", t.path, "fix", "repair the file or run `parachute install <module>` again")
			return t.f
		}
	}
	f, warns := t.load()
	for _, w := range warns {
		t.log.Warn("services.json", "warning", w)
	}
	t.f, t.key, t.loaded = f, key, true
	return f
}

// statKey stats path without following a symlink at its end (services.json
// is never a symlink; secfile refuses to read one).
func statKey(path string) fileKey {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileKey{missing: true}
	}
	if err != nil {
		return fileKey{} // unreadable: the zero key differs from any real one
	}
	k := fileKey{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.dev, k.ino = uint64(st.Dev), uint64(st.Ino) //nolint:unconvert // int32 on darwin
	}
	return k
}
