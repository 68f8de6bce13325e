package install

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/testenv"
)

// vaultFixtureDir is the vault-like fixture package shared with the e2e
// tests (see its README.md).
const vaultFixtureDir = "../e2e/testdata/modules/vault"

// packVaultFixture packs the vault-like fixture with the real `npm pack`.
func packVaultFixture(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		testenv.Unavailable(t, "needs npm to pack the vault fixture: %v", err)
	}
	dest := t.TempDir()
	cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", dest)
	cmd.Dir = vaultFixtureDir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("npm pack %s: %v\n%s", vaultFixtureDir, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return filepath.Join(dest, strings.TrimSpace(lines[len(lines)-1]))
}

// fixtureCall is one line the fixture records per init or create.
type fixtureCall struct {
	Cmd  string            `json:"cmd"`
	Argv []string          `json:"argv"`
	Env  map[string]string `json:"env"`
}

func fixtureCalls(t *testing.T, root string) []fixtureCall {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "vault-fixture-calls.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls []fixtureCall
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c fixtureCall
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("fixture call line %q: %v", sc.Text(), err)
		}
		calls = append(calls, c)
	}
	return calls
}

// vaultInstaller is an Installer whose bun installs into a temp
// $BUN_INSTALL, with 1940 (vault's canonical port) taken so the hub
// assigns another and the test sees whose port wins after init.
func vaultInstaller(t *testing.T, extraEnv ...string) (*Installer, config.Paths, *fakeRuntime, *Lines, string) {
	t.Helper()
	bunBin := bunForTests(t)
	bunHome := t.TempDir()
	paths := config.Paths{Root: t.TempDir()}
	rt := &fakeRuntime{paths: paths}
	env := append(os.Environ(), "BUN_INSTALL="+bunHome, "PATH="+bunBin+string(os.PathListSeparator)+os.Getenv("PATH"))
	env = append(env, extraEnv...)
	rep := &Lines{}
	modEnv := func(short string) ([]string, error) {
		return append(append([]string(nil), env...), "PARACHUTE_HUB_ORIGIN=http://hub.test", "PORT=1944"), nil
	}
	in := New(Options{Paths: paths, Environ: func() []string { return env }, Ports: fakePorts{1940: "someone"},
		Runtime: rt, Reporter: rep, ModuleEnv: modEnv})
	return in, paths, rt, rep, filepath.Join(bunHome, "install", "global", "node_modules", "@openparachute", "vault")
}

func vaultRow(t *testing.T, paths config.Paths) (manifest.Service, bool) {
	t.Helper()
	f, err := manifest.Load(paths.ServicesJSON())
	if err != nil {
		t.Fatal(err)
	}
	return f.Find("vault")
}

// TestVaultInitAfterInstall installs the vault-like fixture from an npm
// tarball through bun and checks that its init ran once, with the hub's
// flags, name and environment, that it did not try to install a unit of
// its own, and that the row keeps the hub's port with vault's mounts.
func TestVaultInitAfterInstall(t *testing.T) {
	tgz := packVaultFixture(t)
	in, paths, rt, rep, pkgDir := vaultInstaller(t)
	res, err := in.Install(context.Background(), Request{Source: tgz, VaultName: "work"})
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, strings.Join(rep.All(), "\n"))
	}
	want := []fixtureCall{{Cmd: "init", Argv: []string{"--no-autostart", "--no-mcp", "--vault-name", "work"},
		Env: map[string]string{"PARACHUTE_HOME": paths.Root, "PARACHUTE_HUB_ORIGIN": "http://hub.test", "PORT": "1944"}}}
	if d := cmp.Diff(want, fixtureCalls(t, paths.Root)); d != "" {
		t.Errorf("init calls (-want +got):\n%s", d)
	}
	if exists(filepath.Join(paths.Root, "vault", "unit-install-attempted")) {
		t.Error("the init tried to install its own systemd/launchd unit")
	}
	if !exists(filepath.Join(paths.Root, "vault", "work", "vault.yaml")) {
		t.Error("the init did not create the work vault")
	}
	row, ok := vaultRow(t, paths)
	if !ok {
		t.Fatal("no vault row after install")
	}
	got := manifest.Service{Name: row.Name, Port: row.Port, Paths: row.Paths, Health: row.Health, Version: row.Version, InstallDir: row.InstallDir}
	wantRow := manifest.Service{Name: "parachute-vault", Port: 1944, Paths: []string{"/vault/work"}, Health: "/vault/work/health",
		Version: "0.3.6-fixture.1", InstallDir: pkgDir}
	if d := cmp.Diff(wantRow, got); d != "" {
		t.Errorf("vault row (-want +got):\n%s", d)
	}
	if !res.Started || !cmp.Equal(rt.Events(), []string{"start vault 0.3.6-fixture.1"}) {
		t.Errorf("started = %v, runtime events %q", res.Started, rt.Events())
	}
	log := strings.Join(rep.All(), "\n")
	for _, w := range []string{"Running parachute-vault init --no-autostart --no-mcp --vault-name work…", `  Creating vault "work"...`} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}

	// A second instance: vault's create, the hub's port and health kept,
	// vault restarted so it serves it; asking again changes nothing.
	vc, err := in.CreateVault(context.Background(), "Notes_2")
	if err != nil {
		t.Fatalf("CreateVault: %v\nlog:\n%s", err, strings.Join(rep.All(), "\n"))
	}
	wantVC := &VaultCreated{Name: "Notes_2", Path: "/vault/Notes_2", Version: "0.3.6-fixture.1", Created: true,
		TokenGuidance: "the fixture mints no token", Paths: &VaultPaths{VaultDir: filepath.Join(paths.Root, "vault", "Notes_2"),
			VaultDB: filepath.Join(paths.Root, "vault", "Notes_2", "vault.db"), VaultConfig: filepath.Join(paths.Root, "vault", "Notes_2", "vault.yaml")}}
	if d := cmp.Diff(wantVC, vc); d != "" {
		t.Errorf("CreateVault (-want +got):\n%s", d)
	}
	row, _ = vaultRow(t, paths)
	if !cmp.Equal(row.Paths, []string{"/vault/work", "/vault/Notes_2"}) || row.Port != 1944 || row.Health != "/vault/work/health" {
		t.Errorf("row after create: paths %q port %d health %q", row.Paths, row.Port, row.Health)
	}
	if ev := rt.Events(); len(ev) != 2 || ev[1] != "start vault 0.3.6-fixture.1" {
		t.Errorf("runtime events after create: %q, want a restart of vault", ev)
	}
	if vc, err := in.CreateVault(context.Background(), "Notes_2"); err != nil || vc.Created || len(fixtureCalls(t, paths.Root)) != 2 {
		t.Errorf("second CreateVault = %+v, %v, %d calls; want the existing instance, nothing run", vc, err, len(fixtureCalls(t, paths.Root)))
	}

	// A reinstall replaces the package but never runs init again.
	if _, err := in.Install(context.Background(), Request{Source: tgz}); err != nil {
		t.Fatalf("reinstall: %v\nlog:\n%s", err, strings.Join(rep.All(), "\n"))
	}
	if n := len(fixtureCalls(t, paths.Root)); n != 2 {
		t.Errorf("init/create ran %d times after a reinstall, want twice (init, create)", n)
	}
	if row, _ = vaultRow(t, paths); !cmp.Equal(row.Paths, []string{"/vault/work", "/vault/Notes_2"}) || row.Health != "/vault/work/health" {
		t.Errorf("a reinstall rewrote the vault mounts: paths %q health %q", row.Paths, row.Health)
	}
}

// TestVaultNoCreate: --no-create installs and registers vault without
// running its init, and does not start it.
func TestVaultNoCreate(t *testing.T) {
	tgz := packVaultFixture(t)
	in, paths, rt, rep, _ := vaultInstaller(t)
	res, err := in.Install(context.Background(), Request{Source: tgz, NoCreate: true})
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, strings.Join(rep.All(), "\n"))
	}
	if calls := fixtureCalls(t, paths.Root); calls != nil {
		t.Errorf("init ran with --no-create: %+v", calls)
	}
	if exists(filepath.Join(paths.Root, "vault")) {
		t.Error("--no-create left a vault directory")
	}
	if _, ok := vaultRow(t, paths); !ok {
		t.Error("--no-create did not register vault")
	}
	if res.Started || len(rt.Events()) != 0 {
		t.Errorf("--no-create started vault: started=%v events=%q", res.Started, rt.Events())
	}
	want := "(skipping parachute-vault init — --no-create: module installed, no instance created)"
	if log := rep.All(); !strings.Contains(strings.Join(log, "\n"), want) {
		t.Errorf("log lacks %q:\n%s", want, strings.Join(log, "\n"))
	}
}

// TestVaultNameCheckedFirst: a bad --vault-name is refused before
// anything is installed.
func TestVaultNameCheckedFirst(t *testing.T) {
	paths := config.Paths{Root: t.TempDir()}
	in := New(Options{Paths: paths, Runner: func(context.Context, Cmd) ([]byte, int, error) {
		t.Fatal("a program ran")
		return nil, 0, nil
	}})
	if _, err := in.Install(context.Background(), Request{Source: "vault", VaultName: "-x"}); err == nil || !strings.Contains(err.Error(), "--vault-name") {
		t.Fatalf("err = %v", err)
	}
}

// TestVaultInitFailureUndoesInstall: an init that exits non-zero fails
// the install with "<cmd> exited <n>", and leaves no row, no package and
// no vault directory behind.
func TestVaultInitFailureUndoesInstall(t *testing.T) {
	tgz := packVaultFixture(t)
	in, paths, rt, rep, pkgDir := vaultInstaller(t, "VAULT_FIXTURE_FAIL_INIT=3")
	_, err := in.Install(context.Background(), Request{Source: tgz})
	var ie *InitError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an *InitError\nlog:\n%s", err, strings.Join(rep.All(), "\n"))
	}
	if !strings.Contains(err.Error(), "parachute-vault init --no-autostart --no-mcp exited 3") ||
		!strings.Contains(err.Error(), "fixture: failing init") {
		t.Errorf("err = %v", err)
	}
	if _, ok := vaultRow(t, paths); ok {
		t.Error("a vault row is left after a failed init")
	}
	for _, p := range []string{pkgDir, filepath.Join(paths.Root, "vault"), journalPath(paths.Root)} {
		if exists(p) {
			t.Errorf("%s is left after a failed init", p)
		}
	}
	if len(rt.Events()) != 0 {
		t.Errorf("runtime events after a failed init: %q", rt.Events())
	}
}
