package migrate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

// day is the sweep's clock in these tests: 2026-12-06 UTC.
var day = time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC)

// legacyTree plants a config root holding every archivable kind, unknown
// entries, dotfiles and the hub's own (safelisted) files, and returns its
// paths and a file outside the root that symlinks point at.
func legacyTree(t *testing.T) (config.Paths, string) {
	t.Helper()
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "big")
	must(t, os.WriteFile(outside, make([]byte, 5000), 0o600))
	file := func(name string, size int) {
		p := filepath.Join(root, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o700))
		must(t, os.WriteFile(p, make([]byte, size), 0o600))
	}
	link := func(name string) { must(t, os.Symlink(outside, filepath.Join(root, name))) }
	// Archivable.
	file("daily.db", 4096)
	file("daily.db-wal", 100)
	file("daily.db-shm", 32)
	file("server.yaml", 12)
	file("channel.log", 2000)
	file("channel.err", 0)
	link("channel.start.sh") // a symlink: moved as a link, 0 bytes
	file("logs/a.log", 1000)
	file("logs/old/b.log", 24)
	link("logs/link") // not followed when sizing
	file("tokens.db", 8192)
	file("tokens.db-wal", 1)
	file("lens/index.html", 300)
	// Unknown.
	file("random.txt", 5)
	file("stuff/x", 5)
	link("elsewhere")
	file("lens.bak", 3)
	// Dotfiles and an earlier archive.
	file(".bashrc", 1)
	file(".archive-2020-01-01/server.yaml", 1)
	// The hub's own, the known modules' and an installed module's.
	for _, n := range []string{"hub/logs/hub.log", "hub.db", "hub.db-wal", "hub.db-shm", "operator.token",
		"expose-state.json", "expose-last-provider.json", "hub-upgrade-status.json", "cloudflared-state.json",
		"well-known/parachute.json", "vault/.env", "scribe/config.json", "weather/data", "modules/bin/bun", "tmp/x"} {
		file(n, 1)
	}
	p := config.Paths{Root: root}
	writeServices(t, p, manifest.Service{Name: "weather", Port: 2020, Paths: []string{"/weather"}, Health: "/weather/health", Version: "1.0.0"})
	return p, outside
}

func writeServices(t *testing.T, p config.Paths, rows ...manifest.Service) {
	t.Helper()
	data, err := (&manifest.File{Services: rows}).Marshal()
	must(t, err)
	must(t, os.WriteFile(p.ServicesJSON(), data, 0o600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	p, _ := legacyTree(t)
	plan, err := Scan(p, day)
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{
		Home: p.Root, ArchiveDir: ".archive-2026-12-06",
		Archive: []Item{
			{Name: "channel.err", Risk: RiskSafe, Label: "legacy channel logs"},
			{Name: "channel.log", Size: 2000, Risk: RiskSafe, Label: "legacy channel logs"},
			{Name: "channel.start.sh", Risk: RiskSafe, Label: "legacy channel launcher"},
			{Name: "daily.db", Size: 4096, Risk: RiskLiveDB, Label: "legacy parachute-daily state"},
			{Name: "daily.db-shm", Size: 32, Risk: RiskLiveDB, Label: "legacy parachute-daily state"},
			{Name: "daily.db-wal", Size: 100, Risk: RiskLiveDB, Label: "legacy parachute-daily state"},
			{Name: "lens", Dir: true, Size: 300, Risk: RiskSafe, Label: "legacy directory"},
			{Name: "logs", Dir: true, Size: 1024, Risk: RiskSafe, Label: "vestigial top-level logs dir"},
			{Name: "server.yaml", Size: 12, Risk: RiskSafe, Label: "legacy server config"},
			{Name: "tokens.db", Size: 8192, Risk: RiskLiveDB, Label: "legacy top-level tokens db"},
			{Name: "tokens.db-wal", Size: 1, Risk: RiskLiveDB, Label: "legacy top-level tokens db"},
		},
		TotalSize: 2000 + 4096 + 32 + 100 + 300 + 1024 + 12 + 8192 + 1,
		Unknown: []Item{
			{Name: "elsewhere", Risk: RiskUnknown},
			{Name: "lens.bak", Risk: RiskUnknown},
			{Name: "random.txt", Risk: RiskUnknown},
			{Name: "stuff", Dir: true, Risk: RiskUnknown},
		},
		Kept: []string{"cloudflared-state.json", "expose-last-provider.json", "expose-state.json",
			"hub", "hub-upgrade-status.json", "hub.db", "hub.db-shm", "hub.db-wal", "modules",
			"operator.token", "scribe", "services.json", "tmp", "vault", "weather", "well-known"},
	}
	if d := cmp.Diff(want, plan); d != "" {
		t.Errorf("Scan (-want +got):\n%s", d)
	}
	if !plan.LiveDB() || plan.Empty() {
		t.Errorf("LiveDB = %v, Empty = %v; want true, false", plan.LiveDB(), plan.Empty())
	}
}

func TestScanCleanAndMissingRoot(t *testing.T) {
	for name, root := range map[string]string{"clean": t.TempDir(), "missing": filepath.Join(t.TempDir(), "nope")} {
		plan, err := Scan(config.Paths{Root: root}, day)
		if err != nil || !plan.Empty() {
			t.Errorf("%s: Scan = %+v, %v; want an empty plan", name, plan, err)
		}
	}
}

// TestApply moves exactly the archivable set, by rename, and nothing
// else; a rerun the same day reuses the directory and a clash gets .dup.
func TestApply(t *testing.T) {
	p, outside := legacyTree(t)
	plan, err := Scan(p, day)
	must(t, err)
	moved, err := plan.Apply(day)
	must(t, err)
	if len(moved) != len(plan.Archive) {
		t.Fatalf("moved %d, want %d", len(moved), len(plan.Archive))
	}
	arch := filepath.Join(p.Root, ".archive-2026-12-06")
	for _, it := range plan.Archive {
		if _, err := os.Lstat(filepath.Join(p.Root, it.Name)); !os.IsNotExist(err) {
			t.Errorf("%s still at the root (%v)", it.Name, err)
		}
		if _, err := os.Lstat(filepath.Join(arch, it.Name)); err != nil {
			t.Errorf("%s not in the archive: %v", it.Name, err)
		}
	}
	for _, it := range plan.Unknown {
		if _, err := os.Lstat(filepath.Join(p.Root, it.Name)); err != nil {
			t.Errorf("unknown %s was touched: %v", it.Name, err)
		}
	}
	for _, n := range plan.Kept {
		if _, err := os.Lstat(filepath.Join(p.Root, n)); err != nil {
			t.Errorf("kept %s was touched: %v", n, err)
		}
	}
	// The symlink moved as a link; its target is untouched.
	if target, err := os.Readlink(filepath.Join(arch, "channel.start.sh")); err != nil || target != outside {
		t.Errorf("archived channel.start.sh: readlink = %q, %v; want the link to %s", target, err, outside)
	}
	if fi, err := os.Stat(outside); err != nil || fi.Size() != 5000 {
		t.Errorf("symlink target: %v, %v", fi, err)
	}
	if fi, err := os.Stat(arch); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("archive dir: %v, %v; want 0700", fi, err)
	}

	// Same day: server.yaml is back, the directory is reused, the name
	// clashes and gets .dup-<epoch-ms>.
	must(t, os.WriteFile(filepath.Join(p.Root, "server.yaml"), []byte("again"), 0o600))
	later := day.Add(10 * time.Minute)
	plan2, err := Scan(p, later)
	must(t, err)
	moved2, err := plan2.Apply(later)
	must(t, err)
	dup := ".archive-2026-12-06/server.yaml.dup-" + strconv.FormatInt(later.UnixMilli(), 10)
	if d := cmp.Diff([]Moved{{Name: "server.yaml", To: dup}}, moved2); d != "" {
		t.Errorf("rerun (-want +got):\n%s", d)
	}
	if b, err := os.ReadFile(filepath.Join(p.Root, dup)); err != nil || string(b) != "again" {
		t.Errorf("dup: %q, %v", b, err)
	}

	// Next day: a second directory.
	must(t, os.WriteFile(filepath.Join(p.Root, "server.yaml"), nil, 0o600))
	next := day.Add(24 * time.Hour)
	plan3, _ := Scan(p, next)
	if _, err := plan3.Apply(next); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(p.Root, ".archive-2026-12-07", "server.yaml")); err != nil {
		t.Errorf("next day: %v", err)
	}
}

// TestApplyRefusesSymlinkedArchive: a symlink named like today's archive
// must not redirect the renames out of the root.
func TestApplyRefusesSymlinkedArchive(t *testing.T) {
	p, _ := legacyTree(t)
	elsewhere := t.TempDir()
	must(t, os.Symlink(elsewhere, filepath.Join(p.Root, ".archive-2026-12-06")))
	plan, err := Scan(p, day)
	must(t, err)
	if moved, err := plan.Apply(day); err == nil || len(moved) != 0 {
		t.Fatalf("Apply through a symlinked archive = %v, %v; want an error and nothing moved", moved, err)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("files landed behind the symlink: %v", ents)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KB", 1536: "1.5 KB",
		5 << 20: "5.0 MB", 3 << 30: "3.0 GB", 1<<40 + 1: "1024.0 GB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestBusy: a live legacy pidfile (this test process stands for a running
// module) counts, a stale one does not and is left in place.
func TestBusy(t *testing.T) {
	p := config.Paths{Root: t.TempDir()}
	writeServices(t, p,
		manifest.Service{Name: "parachute-vault", Port: 1940, Paths: []string{"/vault/default"}, Health: "/vault/default/health", Version: "1.0.0"},
		manifest.Service{Name: "weather", Port: 2020, Paths: []string{"/weather"}, Health: "/weather/health", Version: "1.0.0"})
	if got := Busy(p); len(got) != 0 {
		t.Fatalf("Busy with no pidfiles = %v", got)
	}
	live := os.Getpid()
	dead := exec.Command("true")
	must(t, dead.Run())
	pidfile := func(path string, pid int) {
		must(t, os.MkdirAll(filepath.Dir(path), 0o700))
		must(t, os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o600))
	}
	pidfile(p.LegacyModulePIDFile("weather"), live)
	pidfile(p.LegacyModulePIDFile("vault"), dead.Process.Pid)
	pidfile(p.HubPIDFile(), live)
	if d := cmp.Diff([]string{"hub", "weather"}, Busy(p)); d != "" {
		t.Errorf("Busy (-want +got):\n%s", d)
	}
	if _, err := os.Stat(p.LegacyModulePIDFile("vault")); err != nil {
		t.Errorf("the stale pidfile was removed: %v", err)
	}
}

func TestNotice(t *testing.T) {
	p := config.Paths{Root: t.TempDir()}
	must(t, os.WriteFile(filepath.Join(p.Root, "mystery"), nil, 0o600))
	if n := Notice(p); n != "" {
		t.Errorf("Notice with only an unknown entry = %q, want none", n)
	}
	must(t, os.WriteFile(filepath.Join(p.Root, "server.yaml"), nil, 0o600))
	if n, want := Notice(p), "parachute migrate: 1 archivable entry at "+p.Root+" — run `parachute migrate` to archive them."; n != want {
		t.Errorf("Notice = %q, want %q", n, want)
	}
}
