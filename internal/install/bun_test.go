package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/testenv"
)

// bunForTests is testenv.Bun, under the name this package's tests (and
// branches in flight) call.
func bunForTests(t *testing.T) string { return testenv.Bun(t) }

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
