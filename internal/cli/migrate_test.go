package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hub/hubtest"
	"github.com/openparachute/parachute/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sweepDay is the sweep's clock in these tests.
var sweepDay = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

// sweepRoot plants a config root with every archivable kind, unknowns,
// dotfiles and the hub's own files, points the CLI at it with no hub
// reachable and no unit running, and returns it.
func sweepRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	mustDo(t, os.WriteFile(outside, make([]byte, 777), 0o600))
	file := func(name string, size int) {
		p := filepath.Join(root, name)
		mustDo(t, os.MkdirAll(filepath.Dir(p), 0o700))
		mustDo(t, os.WriteFile(p, make([]byte, size), 0o600))
	}
	for name, size := range map[string]int{
		"daily.db": 4096, "daily.db-wal": 2048, "daily.db-shm": 32768, "server.yaml": 90,
		"channel.log": 1500000, "channel.err": 10, "logs/old.log": 3000, "tokens.db": 12288,
		"tokens.db-shm": 32768, "lens/index.html": 512,
		"random.txt": 3, "notes-backup/x": 1, ".bashrc": 1, ".archive-2020-01-01/x": 1,
		"hub/logs/hub.log": 1, "hub.db": 1, "hub.db-wal": 1, "operator.token": 1,
		"expose-last-provider.json": 1, "hub-upgrade-status.json": 1, "well-known/parachute.json": 1,
		"vault/.env": 1, "weather/data": 1,
	} {
		file(name, size)
	}
	mustDo(t, os.Symlink(outside, filepath.Join(root, "channel.start.sh")))
	mustDo(t, os.Symlink(outside, filepath.Join(root, "mystery-link")))
	mustDo(t, os.WriteFile(filepath.Join(root, "services.json"),
		[]byte(`{"services":[{"name":"weather","port":2020,"paths":["/weather"],"health":"/weather/health","version":"1.0.0"}]}`), 0o600))
	sweepEnv(t, root, false, nil)
	return root
}

// sweepEnv points the CLI at root with no hub reachable (unless a test
// starts one and clears PARACHUTE_HUB_URL) and the hub unit reported
// inactive: the tests must not ask this machine's service manager.
func sweepEnv(t *testing.T, root string, unitActive bool, in io.Reader) {
	t.Helper()
	t.Setenv("PARACHUTE_HOME", root)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustDo(t, err)
	closed := ln.Addr().String()
	ln.Close()
	t.Setenv("PARACHUTE_HUB_URL", "http://"+closed)
	old := newSweepHost
	newSweepHost = func(e *env, p config.Paths) sweepHost {
		h := old(e, p)
		h.unitRunning = func(context.Context) bool { return unitActive }
		h.now = func() time.Time { return sweepDay }
		if in != nil {
			h.stdin, h.tty = in, true
		}
		return h
	}
	t.Cleanup(func() { newSweepHost = old })
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// treeHash digests every path, mode, size, link target and content under
// root, without following symlinks.
func treeHash(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	mustDo(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s %v %d\n", rel, fi.Mode(), fi.Size())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			fmt.Fprintf(h, "-> %s\n", target)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	}))
	return hex.EncodeToString(h.Sum(nil))
}

// rootNames lists root's top level.
func rootNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	mustDo(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

var archivedNames = []string{"channel.err", "channel.log", "channel.start.sh", "daily.db", "daily.db-shm",
	"daily.db-wal", "lens", "logs", "server.yaml", "tokens.db", "tokens.db-shm"}

var keptNames = []string{".archive-2020-01-01", ".archive-2026-12-06", ".bashrc", "expose-last-provider.json", "hub",
	"hub-upgrade-status.json", "hub.db", "hub.db-wal", "mystery-link", "notes-backup", "operator.token",
	"random.txt", "services.json", "vault", "weather", "well-known"}

// TestMigrateSweepPlanGolden: --list and --dry-run print the plan (golden)
// and change nothing, byte for byte.
func TestMigrateSweepPlanGolden(t *testing.T) {
	root := sweepRoot(t)
	before := treeHash(t, root)
	for _, mode := range []string{"--list", "--dry-run"} {
		code, out, errOut := runCLI(t, "migrate", mode)
		if code != ExitOK {
			t.Fatalf("migrate %s = %d: %s", mode, code, errOut)
		}
		golden := filepath.Join("testdata", "migrate_plan"+strings.TrimPrefix(mode, "-")+".golden")
		if *update {
			mustDo(t, os.MkdirAll("testdata", 0o755))
			mustDo(t, os.WriteFile(golden, []byte(out), 0o644))
		}
		want, err := os.ReadFile(golden)
		mustDo(t, err)
		if d := cmp.Diff(string(want), out); d != "" {
			t.Errorf("migrate %s (-want +got):\n%s", mode, d)
		}
		if after := treeHash(t, root); after != before {
			t.Errorf("migrate %s changed the tree", mode)
		}
	}
}

// TestMigrateSweepYes moves exactly the archivable set; a rerun the same
// day reuses the directory and a clash gets .dup-<ms>.
func TestMigrateSweepYes(t *testing.T) {
	root := sweepRoot(t)
	code, out, errOut := runCLI(t, "migrate", "--yes")
	if code != ExitOK {
		t.Fatalf("migrate --yes = %d: %s", code, errOut)
	}
	if !strings.HasSuffix(out, "✓ Archived 11 item(s) to .archive-2026-12-06/\n") {
		t.Errorf("output:\n%s", out)
	}
	if d := cmp.Diff(keptNames, rootNames(t, root)); d != "" {
		t.Errorf("root after sweep (-want +got):\n%s", d)
	}
	arch := filepath.Join(root, ".archive-2026-12-06")
	if d := cmp.Diff(archivedNames, rootNames(t, arch)); d != "" {
		t.Errorf("archive (-want +got):\n%s", d)
	}
	if fi, err := os.Lstat(filepath.Join(arch, "channel.start.sh")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("channel.start.sh should be archived as a link: %v, %v", fi, err)
	}

	// Rerun: nothing left → clean message (unknowns still listed).
	code, out, _ = runCLI(t, "migrate", "--yes")
	if code != ExitOK || !strings.Contains(out, "Nothing recognized to archive.") {
		t.Errorf("rerun = %d:\n%s", code, out)
	}
	// Same day, the name again: reused directory, .dup suffix.
	mustDo(t, os.WriteFile(filepath.Join(root, "server.yaml"), []byte("v2"), 0o600))
	if code, _, errOut := runCLI(t, "migrate", "--yes"); code != ExitOK {
		t.Fatalf("third run = %d: %s", code, errOut)
	}
	dup := fmt.Sprintf("server.yaml.dup-%d", sweepDay.UnixMilli())
	if b, err := os.ReadFile(filepath.Join(arch, dup)); err != nil || string(b) != "v2" {
		t.Errorf("%s: %q, %v", dup, b, err)
	}
	if d := cmp.Diff(keptNames, rootNames(t, root)); d != "" {
		t.Errorf("root after the third run (-want +got):\n%s", d)
	}
}

func TestMigrateSweepCleanRoot(t *testing.T) {
	root := t.TempDir()
	mustDo(t, os.WriteFile(filepath.Join(root, "operator.token"), []byte("x"), 0o600))
	sweepEnv(t, root, false, nil)
	code, out, _ := runCLI(t, "migrate")
	if want := "Nothing to archive. " + root + " is already clean.\n"; code != ExitOK || out != want {
		t.Errorf("migrate on a clean root = %d %q, want 0 %q", code, out, want)
	}
}

// TestMigrateSweepPrompts: no TTY and no --yes refuses; on a TTY only "y"
// proceeds, and live-db items need a second "y".
func TestMigrateSweepPrompts(t *testing.T) {
	cases := []struct {
		name     string
		tty      bool
		input    string
		wantCode int
		moved    bool
		wantOut  string
		wantErr  string
	}{
		{name: "no tty", wantCode: ExitFail, wantErr: "refusing to sweep without a TTY"},
		{name: "decline", tty: true, input: "n\n", wantCode: ExitFail, wantOut: "Proceed? [y/N] ", wantErr: "Aborted."},
		{name: "empty is no", tty: true, input: "\n", wantCode: ExitFail, wantErr: "Aborted."},
		{name: "decline live-db", tty: true, input: "y\nno\n", wantCode: ExitFail,
			wantOut: "Archive the live-db files too? [y/N] ", wantErr: "Aborted."},
		{name: "yes twice", tty: true, input: "Y\nyes\n", wantCode: ExitOK, moved: true,
			wantOut: "Archive the live-db files too? [y/N] ✓ Archived 11 item(s)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := sweepRoot(t)
			var in io.Reader
			if tc.tty {
				in = strings.NewReader(tc.input)
			} else {
				withStdin(t, "y\ny\n") // a pipe that says yes is still not a terminal
			}
			sweepEnv(t, root, false, in)
			before := treeHash(t, root)
			code, out, errOut := runCLI(t, "migrate")
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("migrate = %d\nstdout:\n%s\nstderr:\n%s\nwant %d, stdout ∋ %q, stderr ∋ %q", code, out, errOut, tc.wantCode, tc.wantOut, tc.wantErr)
			}
			if changed := treeHash(t, root) != before; changed != tc.moved {
				t.Errorf("tree changed = %v, want %v", changed, tc.moved)
			}
		})
	}
}

// TestMigrateSweepOnATerminal drives the prompts through a real
// pseudo-terminal, so the TTY detection itself is exercised.
func TestMigrateSweepOnATerminal(t *testing.T) {
	sweepRoot(t)
	master, slave := testenv.OpenPTY(t)
	old := stdin
	stdin = slave
	t.Cleanup(func() { stdin = old })
	if _, err := master.WriteString("y\ny\n"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "migrate")
	if code != ExitOK || !strings.Contains(out, "✓ Archived 11 item(s)") {
		t.Fatalf("migrate on a terminal = %d\n%s\n%s", code, out, errOut)
	}
}

// TestMigrateSweepRefusesWhileRunning: a real hub answering at this root,
// the unit reported active, or a live legacy pidfile each stop the sweep
// (exit 1, nothing changed); --list still works.
func TestMigrateSweepRefusesWhileRunning(t *testing.T) {
	t.Run("a running hub", func(t *testing.T) {
		root := t.TempDir()
		mustDo(t, os.WriteFile(filepath.Join(root, "server.yaml"), []byte("x"), 0o600))
		sweepEnv(t, root, false, nil)
		t.Setenv("PARACHUTE_HUB_URL", "") // find the hub by its hub.port
		hubtest.Start(t, hubtest.Options{Paths: config.Paths{Root: root}})
		waitPortFile(t, config.Paths{Root: root})
		assertRefused(t, root, "  - hub\n")
	})
	t.Run("the unit is active", func(t *testing.T) {
		root := t.TempDir()
		mustDo(t, os.WriteFile(filepath.Join(root, "server.yaml"), []byte("x"), 0o600))
		sweepEnv(t, root, true, nil)
		assertRefused(t, root, "  - hub\n")
	})
	t.Run("a legacy module pidfile", func(t *testing.T) {
		root := t.TempDir()
		mustDo(t, os.WriteFile(filepath.Join(root, "server.yaml"), []byte("x"), 0o600))
		mustDo(t, os.WriteFile(filepath.Join(root, "services.json"),
			[]byte(`{"services":[{"name":"parachute-vault","port":1940,"paths":["/vault/default"],"health":"/vault/default/health","version":"1.0.0"}]}`), 0o600))
		mustDo(t, os.MkdirAll(filepath.Join(root, "vault", "run"), 0o700))
		// This test process is alive: its pid stands for a running module.
		mustDo(t, os.WriteFile(filepath.Join(root, "vault", "run", "vault.pid"), []byte(fmt.Sprint(os.Getpid())), 0o600))
		sweepEnv(t, root, false, nil)
		assertRefused(t, root, "  - vault\n")
	})
}

func assertRefused(t *testing.T, root, wantName string) {
	t.Helper()
	before := treeHash(t, root)
	code, _, errOut := runCLI(t, "migrate", "--yes")
	if code != ExitFail || !strings.Contains(errOut, "refusing to sweep:\n"+wantName) || !strings.Contains(errOut, "parachute migrate --list") {
		t.Errorf("migrate --yes while running = %d, stderr:\n%s\nwant 1 naming %q", code, errOut, wantName)
	}
	if treeHash(t, root) != before {
		t.Error("the refused sweep changed the tree")
	}
	if code, out, _ := runCLI(t, "migrate", "--list"); code != ExitOK || !strings.Contains(out, "server.yaml") {
		t.Errorf("--list while running = %d:\n%s", code, out)
	}
}

// waitPortFile waits until the hub has published its port: the Listening
// callback fires once it accepts connections, and hub.port is written
// right at bind, so this is a formality that guards against reordering.
func waitPortFile(t *testing.T, p config.Paths) {
	t.Helper()
	if _, err := os.Stat(p.HubPortFile()); err != nil {
		t.Fatalf("hub.port after Listening: %v", err)
	}
}

var freeTCPPort = testenv.FreePort

// TestMigrateSweepJSON: --json with --list prints the plan and changes
// nothing; with --yes it also lists what moved; alone it is a usage error.
func TestMigrateSweepJSON(t *testing.T) {
	root := sweepRoot(t)
	before := treeHash(t, root)
	code, out, errOut := runCLI(t, "migrate", "--list", "--json")
	if code != ExitOK {
		t.Fatalf("--list --json = %d: %s", code, errOut)
	}
	var got struct {
		Home       string `json:"home"`
		ArchiveDir string `json:"archive_dir"`
		Archive    []struct {
			Name, Risk, Label string
			Dir               bool
			Size              int64
		} `json:"archive"`
		TotalSize int64 `json:"total_size"`
		Unknown   []struct{ Name string }
		Kept      []string
		Changed   bool
		Moved     []struct{ Name, To string }
	}
	mustDo(t, json.Unmarshal([]byte(out), &got))
	if got.Home != root || got.ArchiveDir != ".archive-2026-12-06" || len(got.Archive) != 11 ||
		len(got.Unknown) != 3 || got.Changed || got.Moved == nil || len(got.Moved) != 0 {
		t.Errorf("--list --json:\n%s", out)
	}
	if treeHash(t, root) != before {
		t.Error("--list --json changed the tree")
	}
	if code, _, _ := runCLI(t, "migrate", "--json"); code != ExitUsage {
		t.Errorf("--json alone = %d, want %d", code, ExitUsage)
	}
	code, out, _ = runCLI(t, "migrate", "--yes", "--json")
	mustDo(t, json.Unmarshal([]byte(out), &got))
	if code != ExitOK || !got.Changed || len(got.Moved) != 11 || got.Moved[0].To != ".archive-2026-12-06/channel.err" {
		t.Errorf("--yes --json = %d:\n%s", code, out)
	}
}

func TestMigrateFlagsBelongToTheSweep(t *testing.T) {
	sweepRoot(t)
	if code, _, errOut := runCLI(t, "migrate", "--teardown", "--yes"); code != ExitUsage || !strings.Contains(errOut, "archive sweep") {
		t.Errorf("--teardown --yes = %d: %s", code, errOut)
	}
}
