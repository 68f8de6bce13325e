package migrate

// The archive sweep (`parachute migrate` with no mode flag, reference
// lifecycle.md §5.1–5.3): files the legacy Bun hub and its modules left at
// the top of the config root are moved, by rename only, into a dated
// `.archive-<YYYY-MM-DD>/` directory. Nothing is ever deleted, and only an
// allowlist of known legacy names is moved (hub#440: a sweep that moved
// everything it did not recognise once nearly archived hub.db). Printing is
// the CLI's job; this file only plans and applies.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/manifest"
)

// Risk says how careful an operator should be about moving an item.
type Risk string

// Risks. An Unknown item is never moved.
const (
	RiskSafe    Risk = "safe"
	RiskLiveDB  Risk = "live-db"
	RiskUnknown Risk = "unknown"
)

// Item is one top-level entry of the config root the sweep looked at.
type Item struct {
	Name string `json:"name"`
	// Dir reports a directory. A symlink is never a directory here: the
	// link itself is what moves, whatever it points at.
	Dir bool `json:"dir"`
	// Size is the bytes moved: a file's size, a directory's recursive sum
	// (symlinks inside not followed), 0 for a symlink; unknowns are not
	// sized.
	Size  int64  `json:"size"`
	Risk  Risk   `json:"risk"`
	Label string `json:"label,omitempty"`
}

// Plan is what a sweep would do.
type Plan struct {
	Home string `json:"home"`
	// ArchiveDir is the archive directory's name under Home,
	// ".archive-<YYYY-MM-DD>" (UTC).
	ArchiveDir string `json:"archive_dir"`
	// Archive lists what would move, alphabetically.
	Archive []Item `json:"archive"`
	// TotalSize sums Archive's sizes.
	TotalSize int64 `json:"total_size"`
	// Unknown lists entries the sweep does not recognise; they stay put.
	Unknown []Item `json:"unknown"`
	// Kept lists entries this hub or its modules own; they stay put and
	// are not worth a warning (the reference listed many of them as
	// "unknown", §9.22).
	Kept []string `json:"kept"`
}

// LiveDB reports whether the plan moves a database file, which needs the
// operator's second yes.
func (p Plan) LiveDB() bool {
	for _, it := range p.Archive {
		if it.Risk == RiskLiveDB {
			return true
		}
	}
	return false
}

// Empty reports a root with nothing to move and nothing unrecognised.
func (p Plan) Empty() bool { return len(p.Archive) == 0 && len(p.Unknown) == 0 }

// safelist names the entries the hub itself owns at the root, besides the
// known modules' directories and the installed modules' directories.
// A slice, not a map: package-level maps are built at init, on every
// exec of the binary (cmd/parachute TestInitCost).
var safelist = []string{
	"hub", "services.json", "hub.db", "hub.db-wal", "hub.db-shm",
	// The lock every services.json writer takes (manifest.Update); it
	// stays once created, so it is ours, not an unknown entry.
	"services.json.lock",
	"well-known", "cloudflared", "cloudflared-state.json",
	state.StateFile, state.LastProviderFile,
	"operator.token", "hub-upgrade-status.json",
	// The container image keeps bun's installs and its temp dir on the
	// volume, under the root (BUN_INSTALL, TMPDIR).
	"modules", "tmp",
}

// archivable is the allowlist of legacy names (§5.1) with their labels.
// A nil match means the name alone decides.
var archivable = []struct {
	match func(name string, dir bool) bool
	label string
}{
	{func(n string, _ bool) bool { return n == "daily.db" || strings.HasPrefix(n, "daily.db-") }, "legacy parachute-daily state"},
	{func(n string, _ bool) bool { return n == "server.yaml" }, "legacy server config"},
	{func(n string, _ bool) bool { return n == "channel.log" || n == "channel.err" }, "legacy channel logs"},
	{func(n string, _ bool) bool { return n == "channel.start.sh" }, "legacy channel launcher"},
	{func(n string, _ bool) bool { return n == "logs" }, "vestigial top-level logs dir"},
	{func(n string, _ bool) bool { return n == "tokens.db" || strings.HasPrefix(n, "tokens.db-") }, "legacy top-level tokens db"},
	{func(n string, dir bool) bool { return n == "lens" && dir }, "legacy directory"},
}

// isLiveDB reports a SQLite database or its WAL/SHM sidecar by name
// (`\.db(-wal|-shm)?$`), which must move together or not at all.
func isLiveDB(name string) bool {
	return strings.HasSuffix(name, ".db") || strings.HasSuffix(name, ".db-wal") || strings.HasSuffix(name, ".db-shm")
}

// ArchiveDirName is the archive directory for the UTC date of now.
func ArchiveDirName(now time.Time) string {
	return ".archive-" + now.UTC().Format("2006-01-02")
}

// Scan plans a sweep of paths.Root's top level. It changes nothing.
func Scan(paths config.Paths, now time.Time) (Plan, error) {
	p := Plan{Home: paths.Root, ArchiveDir: ArchiveDirName(now),
		Archive: []Item{}, Unknown: []Item{}, Kept: []string{}}
	entries, err := os.ReadDir(paths.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", paths.Root, err)
	}
	owned := ownedNames(paths)
	for _, de := range entries { // ReadDir sorts by name
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue // the user's dotfiles, earlier archives, our own hidden state
		}
		if owned[name] {
			p.Kept = append(p.Kept, name)
			continue
		}
		// de.Type() is from lstat: a symlink is ModeSymlink, never a dir.
		dir := de.Type().IsDir()
		label := ""
		for _, a := range archivable {
			if a.match(name, dir) {
				label = a.label
				break
			}
		}
		if label == "" {
			p.Unknown = append(p.Unknown, Item{Name: name, Dir: dir, Risk: RiskUnknown})
			continue
		}
		size, err := sizeOf(filepath.Join(paths.Root, name), de)
		if err != nil {
			return p, err
		}
		risk := RiskSafe
		if isLiveDB(name) {
			risk = RiskLiveDB
		}
		p.Archive = append(p.Archive, Item{Name: name, Dir: dir, Size: size, Risk: risk, Label: label})
		p.TotalSize += size
	}
	return p, nil
}

// ownedNames are the root entries the hub and its modules own: the
// safelist, every known module's directory, and the directory of every
// module registered in services.json (third-party ones included).
func ownedNames(paths config.Paths) map[string]bool {
	owned := make(map[string]bool, len(safelist)+8)
	for _, n := range safelist {
		owned[n] = true
	}
	for _, k := range manifest.KnownModules() {
		owned[k.Short] = true
	}
	// Lenient: one bad row must not abort the sweep (§9.15).
	f, _ := manifest.LoadLenient(paths.ServicesJSON()) // never nil
	for _, row := range f.Services {
		owned[manifest.ShortName(row.Name)] = true
	}
	return owned
}

// sizeOf is a file's size, a directory's recursive sum, or 0 for a
// symlink. WalkDir does not follow symlinks, so a link inside a directory
// counts 0 and cannot loop.
func sizeOf(path string, de fs.DirEntry) (int64, error) {
	if de.Type()&fs.ModeSymlink != 0 {
		return 0, nil
	}
	if !de.IsDir() {
		fi, err := de.Info()
		if err != nil {
			return 0, fmt.Errorf("sizing %s: %w", path, err)
		}
		return fi.Size(), nil
	}
	var total int64
	err := filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sizing %s: %w", path, err)
	}
	return total, nil
}

// Moved records one rename the sweep made.
type Moved struct {
	Name string `json:"name"`
	// To is the path under Home it now has, e.g.
	// ".archive-2026-12-06/server.yaml" or "….dup-1765000000000" on a clash.
	To string `json:"to"`
}

// Apply makes the plan's renames: it creates the archive directory (or
// reuses today's), then moves each archivable item into it, giving an item
// whose name is already taken there a ".dup-<epoch-ms>" suffix. Unknown and
// kept entries are not touched; nothing is deleted. On error it returns
// what it moved so far.
func (p Plan) Apply(now time.Time) ([]Moved, error) {
	moved := []Moved{}
	if len(p.Archive) == 0 {
		return moved, nil
	}
	dir := filepath.Join(p.Home, p.ArchiveDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return moved, fmt.Errorf("creating %s: %w", dir, err)
	}
	// Why Lstat: a planted symlink named like today's archive would make
	// the renames land wherever it points (outside the root, or on another
	// user's directory). Only a real directory is used.
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return moved, fmt.Errorf("%s is not a directory; move it aside and re-run `parachute migrate`", dir)
	}
	suffix := ".dup-" + strconv.FormatInt(now.UnixMilli(), 10)
	for _, it := range p.Archive {
		rel := filepath.Join(p.ArchiveDir, it.Name)
		if _, err := os.Lstat(filepath.Join(p.Home, rel)); err == nil {
			rel += suffix
		}
		if err := os.Rename(filepath.Join(p.Home, it.Name), filepath.Join(p.Home, rel)); err != nil {
			return moved, fmt.Errorf("moving %s into %s: %w", it.Name, p.ArchiveDir, err)
		}
		moved = append(moved, Moved{Name: it.Name, To: rel})
	}
	return moved, nil
}

// HumanSize formats bytes as the plan shows them: "<n> B" below 1 KiB,
// else KB/MB/GB (binary) with one decimal.
func HumanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n)/1024, "KB"
	for _, u := range []string{"MB", "GB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

// Busy lists what is running from the legacy pidfiles (hub/run/hub.pid and
// each registered module's <short>/run/<short>.pid whose process is alive),
// the processes a sweep must not race. Unlike the cutover it never removes
// a stale pidfile: the sweep's checks change nothing.
func Busy(paths config.Paths) []string {
	var out []string
	for _, pf := range legacyPIDFiles(paths) {
		if pid, err := livePID(pf.path); err == nil && pid > 0 {
			out = append(out, pf.label)
		}
	}
	return out
}

// Notice is the one line a verb like `parachute install` prints when the
// config root holds legacy files the sweep would archive (reference §5.6),
// or "" when there are none (unknown entries do not count). It only reads.
func Notice(paths config.Paths) string {
	p, err := Scan(paths, time.Now())
	if err != nil || len(p.Archive) == 0 {
		return ""
	}
	noun := "entries"
	if len(p.Archive) == 1 {
		noun = "entry"
	}
	return fmt.Sprintf("parachute migrate: %d archivable %s at %s — run `parachute migrate` to archive them.", len(p.Archive), noun, paths.Root)
}
