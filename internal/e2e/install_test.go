package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
)

// The install tests drive `parachute install/upgrade/uninstall` against a
// running hub, with fixture modules packed by the real `npm pack` and
// installed by the real npm into a temporary global prefix.

// fixtureModule writes a module package: package.json (name, version) and
// .parachute/module.json running testmod with args.
func fixtureModule(t *testing.T, dir, pkg, version, name string, port int, args ...string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(dir, "package.json"), map[string]any{"name": pkg, "version": version,
		"files": []string{".parachute"}})
	writeJSON(t, filepath.Join(dir, ".parachute", "module.json"), map[string]any{"name": name, "port": port,
		"paths": []string{"/" + name}, "health": "/" + name + "/health", "startCmd": append([]string{testmodBin}, args...)})
	// t.TempDir is 0700 and files are 0600: npm copies modes, and the hub
	// reads these as the same user, so that is fine.
	return dir
}

// npmPack packs dir with `npm pack` into dest and returns the tarball.
func npmPack(t *testing.T, dir, dest string) string {
	t.Helper()
	cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", dest)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("npm pack %s: %v\n%s", dir, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return filepath.Join(dest, strings.TrimSpace(lines[len(lines)-1]))
}

// withNPMPrefix points npm's global installs (of the hub and the CLI,
// which inherit this process's environment) at a temp prefix.
func withNPMPrefix(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		testenv.Unavailable(t, "needs npm (npm pack, npm install -g --prefix): %v", err)
	}
	prefix := t.TempDir()
	t.Setenv("NPM_CONFIG_PREFIX", prefix)
	t.Setenv("npm_config_update_notifier", "false")
	// Hide any bun the host has: these tests are about the npm path.
	t.Setenv("BUN_INSTALL", filepath.Join(prefix, "no-bun"))
	return prefix
}

// modVersion is one module of `status --json`, with the fields these
// tests need.
type modVersion struct {
	Name    string `json:"name"`
	Port    int    `json:"port"`
	Version string `json:"version"`
	State   string `json:"state"`
	PID     *int   `json:"pid"`
}

func (h *hubEnv) modules() map[string]modVersion {
	h.t.Helper()
	out, _, _ := h.run("status", "--json")
	var doc struct {
		Modules []modVersion `json:"modules"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		h.t.Fatalf("status --json: %v\n%s", err, out)
	}
	m := map[string]modVersion{}
	for _, x := range doc.Modules {
		m[x.Name] = x
	}
	return m
}

func (h *hubEnv) mustRun(args ...string) string {
	h.t.Helper()
	out, errOut, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("parachute %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func TestInstallDirectoryAndTarball(t *testing.T) {
	prefix := withNPMPrefix(t)
	h := newHome(t)
	h.start()
	base := t.TempDir()

	// A directory is used in place.
	dirPort := freePort(t)
	dir := fixtureModule(t, filepath.Join(base, "dirmod"), "dirmod-pkg", "1.0.0", "dirmod", dirPort, "serve")
	out := h.mustRun("install", dir)
	if !strings.Contains(out, "dirmod 1.0.0 is running on port "+strconv.Itoa(dirPort)) {
		t.Fatalf("install dir output:\n%s", out)
	}

	// A tarball goes through npm into the global prefix.
	tgzPort := freePort(t)
	src := fixtureModule(t, filepath.Join(base, "tgzmod"), "parachute-tgzmod", "0.3.0", "tgzmod", tgzPort, "serve")
	tgz := npmPack(t, src, base)
	out = h.mustRun("install", tgz)
	if !strings.Contains(out, "installing "+tgz+" with npm") || !strings.Contains(out, "tgzmod 0.3.0 is running") {
		t.Fatalf("install tgz output:\n%s", out)
	}
	pkgDir := filepath.Join(prefix, "lib", "node_modules", "parachute-tgzmod")
	if _, err := os.Stat(filepath.Join(pkgDir, ".parachute", "module.json")); err != nil {
		t.Fatalf("npm did not install the tarball into the prefix: %v", err)
	}

	mods := h.modules()
	for name, ver := range map[string]string{"dirmod": "1.0.0", "tgzmod": "0.3.0"} {
		m, ok := mods[name]
		if !ok || m.State != "active" || m.Version != ver {
			t.Fatalf("status for %s = %+v (ok %v), want active at %s", name, m, ok, ver)
		}
	}
	resp, err := httpGet(h.url("/tgzmod/hello"))
	if err != nil || resp != 200 {
		t.Fatalf("GET /tgzmod/hello through the hub = %d, %v", resp, err)
	}

	// Uninstall: the npm package goes, the linked directory stays.
	out = h.mustRun("uninstall", "tgzmod")
	if !strings.Contains(out, "removing parachute-tgzmod with npm") {
		t.Fatalf("uninstall tgzmod output:\n%s", out)
	}
	if _, err := os.Stat(pkgDir); !os.IsNotExist(err) {
		t.Fatalf("package dir after uninstall: %v", err)
	}
	h.mustRun("uninstall", "dirmod", "--purge")
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		t.Fatalf("uninstall touched the linked directory: %v", err)
	}
	if mods := h.modules(); len(mods) != 0 {
		t.Fatalf("modules after uninstall: %+v", mods)
	}
	if net := listening(dirPort) || listening(tgzPort); net {
		t.Fatalf("a module still listens after uninstall")
	}

	// Refusals name the file and the field, or the first-party module.
	bad := filepath.Join(base, "bad")
	fixtureModule(t, bad, "bad", "1.0.0", "bad", 0, "serve")
	if err := os.WriteFile(filepath.Join(bad, ".parachute", "module.json"), []byte(`{"name":"bad","health":"nope"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := h.run("install", bad)
	if code != 1 || !strings.Contains(errOut, filepath.Join(bad, ".parachute", "module.json")) || !strings.Contains(errOut, "health") {
		t.Fatalf("install of a bad module.json: exit %d\n%s", code, errOut)
	}
	evil := fixtureModule(t, filepath.Join(base, "evil"), "evil", "1.0.0", "vault", 0, "serve")
	_, errOut, code = h.run("install", evil)
	if code != 1 || !strings.Contains(errOut, `"vault"`) {
		t.Fatalf("install of a module named vault: exit %d\n%s", code, errOut)
	}
}

// TestUpgradeRollbackDowngrade: A → B restarts on B; C, which exits at
// start, is rolled back to B; going back to A is refused.
func TestUpgradeRollbackDowngrade(t *testing.T) {
	withNPMPrefix(t)
	h := newHome(t)
	h.start()
	base := t.TempDir()
	port := freePort(t)
	pack := func(version string, args ...string) string {
		dir := fixtureModule(t, filepath.Join(base, "src-"+version), "parachute-fx", version, "fx", port, args...)
		return npmPack(t, dir, base)
	}
	tgzA, tgzB, tgzC := pack("1.0.0", "serve"), pack("2.0.0", "serve"), pack("3.0.0", "crash", "3")

	h.mustRun("install", tgzA)
	before := h.modules()["fx"]
	if before.State != "active" || before.PID == nil {
		t.Fatalf("after installing A: %+v", before)
	}

	out := h.mustRun("upgrade", "fx", "--from", tgzB)
	if !strings.Contains(out, "fx 1.0.0 → 2.0.0") || !strings.Contains(out, "fx 2.0.0 is running") {
		t.Fatalf("upgrade to B output:\n%s", out)
	}
	afterB := h.modules()["fx"]
	if afterB.Version != "2.0.0" || afterB.State != "active" || afterB.PID == nil || *afterB.PID == *before.PID {
		t.Fatalf("after upgrading to B: %+v (A had pid %d)", afterB, *before.PID)
	}

	out, errOut, code := h.run("upgrade", "fx", "--from", tgzC)
	if code != 1 || !strings.Contains(errOut, "rolled back to 2.0.0") || !strings.Contains(out, "rolling fx back to 2.0.0") {
		t.Fatalf("upgrade to a failing C: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	waitFor(t, "fx back on 2.0.0 and active", 15*time.Second, func() bool {
		m := h.modules()["fx"]
		return m.Version == "2.0.0" && m.State == "active"
	})

	_, errOut, code = h.run("upgrade", "fx", "--from", tgzA)
	if code != 1 || !strings.Contains(errOut, "refusing to downgrade") || !strings.Contains(errOut, "--allow-downgrade") {
		t.Fatalf("downgrade to A: exit %d\nstderr:\n%s", code, errOut)
	}
	if m := h.modules()["fx"]; m.Version != "2.0.0" || m.State != "active" {
		t.Fatalf("after a refused downgrade: %+v", m)
	}

	out = h.mustRun("upgrade", "fx", "--from", tgzB)
	if !strings.Contains(out, "already at 2.0.0; nothing restarted") {
		t.Fatalf("upgrade to the same version:\n%s", out)
	}
}

// TestInstallPortConflict: an unrelated listener on the module's canonical
// port moves it to another port, and the message names the listener.
func TestInstallPortConflict(t *testing.T) {
	h := newHome(t)
	h.start()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	dir := fixtureModule(t, filepath.Join(t.TempDir(), "clash"), "clash", "1.0.0", "clash", taken, "serve")
	out := h.mustRun("install", dir)
	want := "canonical port " + strconv.Itoa(taken) + " is in use by "
	if !strings.Contains(out, want) || !strings.Contains(out, "(pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("install output does not name the holder of %d (this test, pid %d):\n%s", taken, os.Getpid(), out)
	}
	m := h.modules()["clash"]
	if m.Port == taken || m.State != "active" {
		t.Fatalf("clash = %+v, want active on a port other than %d", m, taken)
	}
}

// TestConcurrentInstallsBothRegistered runs two installs at once that want
// the same port: both rows end up registered, on different ports, running.
func TestConcurrentInstallsBothRegistered(t *testing.T) {
	h := newHome(t)
	h.start()
	base := t.TempDir()
	port := freePort(t)
	dirs := []string{
		fixtureModule(t, filepath.Join(base, "one"), "one", "1.0.0", "one", port, "serve"),
		fixtureModule(t, filepath.Join(base, "two"), "two", "1.0.0", "two", port, "serve"),
	}
	var wg sync.WaitGroup
	results := make([]string, len(dirs))
	for i, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, code := h.run("install", d)
			if code != 0 {
				results[i] = "exit " + strconv.Itoa(code) + "\n" + out + errOut
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r != "" {
			t.Fatalf("a concurrent install failed: %s", r)
		}
	}
	mods := h.modules()
	one, two := mods["one"], mods["two"]
	if one.State != "active" || two.State != "active" || one.Port == two.Port {
		t.Fatalf("after concurrent installs: one=%+v two=%+v", one, two)
	}
}

func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestInstallWithHubDownThenSweep: with no hub the CLI registers the
// module itself and says it starts with the hub; the hub then runs it. A
// sweep skips what has no upgrade source, and `upgrade hub` without a
// release source says what to pass.
func TestInstallWithHubDownThenSweep(t *testing.T) {
	h := newHome(t)
	port := freePort(t)
	dir := fixtureModule(t, filepath.Join(t.TempDir(), "lazy"), "lazy", "1.0.0", "lazy", port, "serve")
	out := h.mustRun("install", dir)
	if !strings.Contains(out, "lazy 1.0.0 registered on port "+strconv.Itoa(port)) || !strings.Contains(out, "The hub is not running; lazy will start with it") {
		t.Fatalf("install with the hub down:\n%s", out)
	}
	h.start()
	waitFor(t, "lazy started by the hub", 15*time.Second, func() bool { return h.modules()["lazy"].State == "active" })

	// In a container (this sandbox may be one) the hub is redeployed,
	// never replaced in place; elsewhere it needs --from.
	hubNote, hubErr := "hub: no release source is configured; skipping", "parachute upgrade hub --from"
	for _, marker := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(marker); err == nil {
			hubNote, hubErr = "hub: runs from a container image", "redeploy-required"
		}
	}
	out = h.mustRun("upgrade")
	if !strings.Contains(out, hubNote) || !strings.Contains(out, "(skipped)") {
		t.Fatalf("upgrade sweep:\n%s", out)
	}
	_, errOut, code := h.run("upgrade", "lazy")
	if code != 1 || !strings.Contains(errOut, "neither a bun/npm install nor a git checkout") {
		t.Fatalf("upgrade lazy: exit %d\n%s", code, errOut)
	}
	_, errOut, code = h.run("upgrade", "hub")
	if code != 1 || !strings.Contains(errOut, hubErr) {
		t.Fatalf("upgrade hub without --from: exit %d\n%s", code, errOut)
	}
	_, errOut, code = h.run("upgrade", "nope")
	if code != 1 || !strings.Contains(errOut, "parachute install nope") {
		t.Fatalf("upgrade of a module that is not installed: exit %d\n%s", code, errOut)
	}
}

// TestInstallMalformedServicesJSON: a broken registry is reported as such
// and left untouched.
func TestInstallMalformedServicesJSON(t *testing.T) {
	h := newHome(t)
	bad := []byte(`{"services": [ {"name": "x", `)
	path := filepath.Join(h.root, "services.json")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := fixtureModule(t, filepath.Join(t.TempDir(), "m"), "m", "1.0.0", "m", freePort(t), "serve")
	_, errOut, code := h.run("install", dir)
	if code != 1 || !strings.Contains(errOut, "services.json is malformed") || !strings.Contains(errOut, "Fix or remove the file") {
		t.Fatalf("install over a malformed services.json: exit %d\n%s", code, errOut)
	}
	if b, _ := os.ReadFile(path); string(b) != string(bad) {
		t.Fatalf("services.json was rewritten: %q", b)
	}
}

// Several `parachute install` processes writing services.json at once with
// no hub to serialise them: the file lock keeps every row.
func TestConcurrentWritersWithHubDown(t *testing.T) {
	h := newHome(t)
	base := t.TempDir()
	const n = 6
	var wg sync.WaitGroup
	fails := make([]string, n)
	for i := 0; i < n; i++ {
		name := "w" + strconv.Itoa(i)
		dir := fixtureModule(t, filepath.Join(base, name), name, "1.0.0", name, freePort(t), "serve")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, errOut, code := h.run("install", dir, "--no-start"); code != 0 {
				fails[i] = out + errOut
			}
		}()
	}
	wg.Wait()
	for _, f := range fails {
		if f != "" {
			t.Fatalf("a concurrent install failed:\n%s", f)
		}
	}
	data, err := os.ReadFile(filepath.Join(h.root, "services.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if !strings.Contains(string(data), `"name": "w`+strconv.Itoa(i)+`"`) {
			t.Errorf("row w%d lost:\n%s", i, data)
		}
	}
}
