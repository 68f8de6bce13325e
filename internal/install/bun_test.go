package install

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/testenv"
)

// bunForTests installs bun from npm into a cache directory shared by test
// runs (it is ~100 MB; fetching it every run would dominate the suite) and
// returns the directory holding the bun executable.
func bunForTests(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("bun"); err == nil {
		return filepath.Dir(p)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		testenv.Unavailable(t, "needs bun, or npm to install it: %v", err)
	}
	prefix := filepath.Join(os.TempDir(), "parachute-test-bun")
	bin := filepath.Join(prefix, "bin")
	if out, err := exec.Command(filepath.Join(bin, "bun"), "--version").CombinedOutput(); err == nil && len(out) > 0 {
		return bin
	}
	cmd := exec.Command("npm", "install", "-g", "--no-fund", "--no-audit", "bun")
	cmd.Env = append(os.Environ(), "NPM_CONFIG_PREFIX="+prefix)
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Unavailable(t, "could not install bun from npm: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(bin, "bun"), "--version").CombinedOutput(); err != nil {
		testenv.Unavailable(t, "bun installed from npm does not run here: %v\n%s", err, out)
	}
	return bin
}

// TestTarballLifecycleWithBun is TestTarballLifecycle's happy path with
// `bun add -g`: install, upgrade, uninstall, all under $BUN_INSTALL.
func TestTarballLifecycleWithBun(t *testing.T) {
	bunBin := bunForTests(t)
	ctx := context.Background()
	bunHome := t.TempDir()
	paths := config.Paths{Root: t.TempDir()}
	rt := &fakeRuntime{paths: paths}
	env := append(os.Environ(), "BUN_INSTALL="+bunHome, "PATH="+bunBin+string(os.PathListSeparator)+os.Getenv("PATH"))
	rep := &Lines{}
	in := New(Options{Paths: paths, Environ: func() []string { return env }, Ports: fakePorts{}, Runtime: rt, Reporter: rep})
	base := t.TempDir()
	pack := func(version string) string {
		dir := writeModule(t, filepath.Join(base, "src-"+version), fixture{pkg: "parachute-bunfix", version: version, name: "bunfix", port: 4600})
		return packTarball(t, dir, filepath.Join(base, "parachute-bunfix-"+version+".tgz"))
	}
	pkgDir := filepath.Join(bunHome, "install", "global", "node_modules", "parachute-bunfix")

	res, err := in.Install(ctx, Request{Source: pack("1.0.0")})
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, strings.Join(rep.All(), "\n"))
	}
	if res.Manager != "bun" || res.InstallDir != pkgDir || res.Version != "1.0.0" {
		t.Fatalf("install = %+v", res)
	}
	res, err = in.Upgrade(ctx, UpgradeRequest{Short: "bunfix", From: pack("2.0.0")})
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, strings.Join(rep.All(), "\n"))
	}
	if p, _ := readPackageJSON(pkgDir); res.Version != "2.0.0" || p.Version != "2.0.0" {
		t.Fatalf("upgrade = %+v, on disk %s", res, p.Version)
	}
	ures, err := in.Uninstall(ctx, UninstallRequest{Short: "bunfix"})
	if err != nil || ures.Manager != "bun" {
		t.Fatalf("uninstall = %+v, %v", ures, err)
	}
	if _, err := os.Stat(pkgDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("package dir after bun remove: %v", err)
	}
}
