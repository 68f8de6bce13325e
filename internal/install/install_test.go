package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/manifest"
)

func TestInstallDirectory(t *testing.T) {
	ctx := context.Background()
	rt := &fakeRuntime{}
	in, paths, _ := newTestInstaller(t, rt, fakePorts{4100: "python3 (pid 12)"}, nil)
	rt.paths = paths
	src := writeModule(t, filepath.Join(t.TempDir(), "weather"), fixture{pkg: "parachute-weather", version: "1.0.0", name: "weather", port: 4100})

	res, err := in.Install(ctx, Request{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{Short: "weather", Name: "weather", Port: 1944, InstallDir: src, Version: "1.0.0", Source: SourceDir, Started: true}
	if d := cmp.Diff(want, res); d != "" {
		t.Fatalf("result mismatch (-want +got):\n%s", d)
	}
	row := rows(t, paths)["weather"]
	if row.Port != 1944 || row.InstallDir != src || row.Version != "1.0.0" || row.Health != "/weather/health" {
		t.Fatalf("row = %+v", row)
	}
	lines := in.rep.(*Lines).All()
	if !containsLine(lines, "canonical port 4100 is in use by python3 (pid 12)") {
		t.Fatalf("no message naming the port holder in %q", lines)
	}

	t.Run("reinstall keeps port and .env", func(t *testing.T) {
		env := paths.ModuleEnv("weather")
		if err := os.MkdirAll(filepath.Dir(env), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(env, []byte("KEY=1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		writeModule(t, src, fixture{pkg: "parachute-weather", version: "1.1.0", name: "weather", port: 4100})
		res, err := in.Install(ctx, Request{Source: src})
		if err != nil {
			t.Fatal(err)
		}
		if res.Port != 1944 || !res.Replaced || res.PreviousVersion != "1.0.0" || res.Version != "1.1.0" {
			t.Fatalf("reinstall result = %+v", res)
		}
		if b, err := os.ReadFile(env); err != nil || string(b) != "KEY=1\n" {
			t.Fatalf(".env after reinstall = %q, %v", b, err)
		}
		if d := cmp.Diff([]string{"start weather 1.0.0", "start weather 1.1.0"}, rt.Events()); d != "" {
			t.Fatalf("runtime events (-want +got):\n%s", d)
		}
	})

	t.Run("no start", func(t *testing.T) {
		other := writeModule(t, filepath.Join(t.TempDir(), "quiet"), fixture{pkg: "quiet", version: "0.1.0", name: "quiet"})
		res, err := in.Install(ctx, Request{Source: other, NoStart: true})
		if err != nil || res.Started {
			t.Fatalf("Install(NoStart) = %+v, %v; want registered, not started", res, err)
		}
	})
}

func TestInstallRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		name    string
		fx      fixture
		req     Request
		wantIs  error
		wantErr []string
	}{
		{name: "first-party name", fx: fixture{pkg: "evil", version: "1.0.0", name: "vault"}, wantIs: ErrCollision, wantErr: []string{`"vault"`, "belongs to Parachute"}},
		{name: "first-party row name", fx: fixture{pkg: "evil", version: "1.0.0", name: "parachute-scribe"}, wantIs: ErrCollision},
		{name: "vault instance name", fx: fixture{pkg: "evil", version: "1.0.0", name: "parachute-vault-work"}, wantIs: ErrCollision},
		{name: "reserved route name", fx: fixture{pkg: "evil", version: "1.0.0", name: "operations"}, wantIs: ErrCollision},
		{name: "bad module.json", fx: fixture{pkg: "bad", version: "1.0.0", raw: `{"name":"bad","paths":["nope"]}`}, wantErr: []string{"module.json", "paths[0]", `must start with "/"`}},
		{name: "requested port busy", fx: fixture{pkg: "ok", version: "1.0.0", name: "ok"}, req: Request{Port: 5000}, wantIs: ErrPortInUse, wantErr: []string{"in use by nginx (pid 9)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, paths, _ := newTestInstaller(t, nil, fakePorts{5000: "nginx (pid 9)"}, nil)
			tc.req.Source = writeModule(t, filepath.Join(dir, tc.name), tc.fx)
			_, err := in.Install(ctx, tc.req)
			wantErrContains(t, err, tc.wantErr...)
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("err = %v, want errors.Is %v", err, tc.wantIs)
			}
			if names := rowNames(t, paths); len(names) != 0 {
				t.Fatalf("rows after a refused install: %v", names)
			}
		})
	}
}

// TestConcurrentInstalls: two installs at once, both wanting port 4200,
// end with both rows registered on different ports.
func TestConcurrentInstalls(t *testing.T) {
	ctx := context.Background()
	in1, paths, _ := newTestInstaller(t, nil, nil, nil)
	in2 := New(Options{Paths: paths, Ports: fakePorts{}, PackageManager: "npm"})
	base := t.TempDir()
	a := writeModule(t, filepath.Join(base, "alpha"), fixture{pkg: "alpha", version: "1.0.0", name: "alpha", port: 4200})
	b := writeModule(t, filepath.Join(base, "beta"), fixture{pkg: "beta", version: "1.0.0", name: "beta", port: 4200})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, job := range []struct {
		in  *Installer
		src string
	}{{in1, a}, {in2, b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = job.in.Install(ctx, Request{Source: job.src})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	r := rows(t, paths)
	if len(r) != 2 || r["alpha"].Port == r["beta"].Port {
		t.Fatalf("rows after concurrent installs = %+v, want alpha and beta on different ports", r)
	}
}

// TestTarballLifecycle installs tarballs with the real npm into a temp
// prefix: install A, upgrade to B, a B that fails readiness rolls back to
// A, a downgrade is refused, uninstall removes the package.
func TestTarballLifecycle(t *testing.T) {
	needNPM(t)
	ctx := context.Background()
	rt := &fakeRuntime{}
	in, paths, prefix := newTestInstaller(t, rt, nil, nil)
	rt.paths = paths
	base := t.TempDir()
	pack := func(version string) string {
		dir := writeModule(t, filepath.Join(base, "src-"+version), fixture{pkg: "parachute-fixture", version: version, name: "fixture", port: 4300})
		return packTarball(t, dir, filepath.Join(base, "parachute-fixture-"+version+".tgz"))
	}
	tgzA, tgzB, tgzC := pack("1.0.0"), pack("2.0.0"), pack("3.0.0")
	pkgDir := filepath.Join(prefix, "lib", "node_modules", "parachute-fixture")
	installedVersion := func() string {
		p, err := readPackageJSON(pkgDir)
		if err != nil {
			t.Fatal(err)
		}
		return p.Version
	}

	res, err := in.Install(ctx, Request{Source: tgzA})
	if err != nil {
		t.Fatal(err)
	}
	if res.InstallDir != pkgDir || res.Manager != "npm" || res.Version != "1.0.0" || res.Port != 4300 {
		t.Fatalf("install A = %+v", res)
	}

	t.Run("upgrade to B", func(t *testing.T) {
		res, err := in.Upgrade(ctx, UpgradeRequest{Short: "fixture", From: tgzB})
		if err != nil {
			t.Fatal(err)
		}
		if res.Version != "2.0.0" || res.PreviousVersion != "1.0.0" || !res.Started || installedVersion() != "2.0.0" {
			t.Fatalf("upgrade B = %+v (on disk %s)", res, installedVersion())
		}
		if _, err := os.Stat(backupPath(pkgDir)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("backup of A left behind after a healthy upgrade: %v", err)
		}
		assertNoJournal(t, paths)
	})

	t.Run("same version is a no-op", func(t *testing.T) {
		before := len(rt.Events())
		res, err := in.Upgrade(ctx, UpgradeRequest{Short: "fixture", From: tgzB})
		if err != nil || !res.Unchanged || len(rt.Events()) != before {
			t.Fatalf("upgrade to the same version = %+v, %v; events %v", res, err, rt.Events())
		}
	})

	t.Run("unhealthy C rolls back to B", func(t *testing.T) {
		rt.fail = func(row manifest.Service) error {
			if row.Version == "3.0.0" {
				return errors.New("exited during start")
			}
			return nil
		}
		defer func() { rt.fail = nil }()
		_, err := in.Upgrade(ctx, UpgradeRequest{Short: "fixture", From: tgzC})
		var rb *RollbackError
		if !errors.As(err, &rb) || rb.Restored != "2.0.0" || rb.Failed != "3.0.0" || rb.RestoreErr != nil {
			t.Fatalf("err = %v, want a clean rollback to 2.0.0", err)
		}
		if v := installedVersion(); v != "2.0.0" {
			t.Fatalf("on disk after rollback: %s, want 2.0.0", v)
		}
		if v := rows(t, paths)["fixture"].Version; v != "2.0.0" {
			t.Fatalf("row version after rollback: %s", v)
		}
		assertNoJournal(t, paths)
		ev := rt.Events()
		if d := cmp.Diff([]string{"start fixture 3.0.0", "start fixture 2.0.0"}, ev[len(ev)-2:]); d != "" {
			t.Fatalf("last runtime events (-want +got):\n%s", d)
		}
	})

	t.Run("downgrade refused", func(t *testing.T) {
		_, err := in.Upgrade(ctx, UpgradeRequest{Short: "fixture", From: tgzA})
		if !errors.Is(err, ErrDowngrade) {
			t.Fatalf("err = %v, want ErrDowngrade", err)
		}
		wantErrContains(t, err, "1.0.0", "2.0.0", "--allow-downgrade")
		if v := installedVersion(); v != "2.0.0" {
			t.Fatalf("on disk after a refused downgrade: %s", v)
		}
	})

	t.Run("uninstall removes the package", func(t *testing.T) {
		res, err := in.Uninstall(ctx, UninstallRequest{Short: "fixture", Purge: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Package != "parachute-fixture" || res.Manager != "npm" || len(res.Rows) != 1 {
			t.Fatalf("uninstall = %+v", res)
		}
		if _, err := os.Stat(pkgDir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("package dir after uninstall: %v", err)
		}
		if names := rowNames(t, paths); len(names) != 0 {
			t.Fatalf("rows after uninstall: %v", names)
		}
	})
}

func TestUninstall(t *testing.T) {
	ctx := context.Background()
	rt := &fakeRuntime{}
	in, paths, _ := newTestInstaller(t, rt, nil, nil)
	rt.paths = paths
	src := writeModule(t, filepath.Join(t.TempDir(), "linked"), fixture{pkg: "linked", version: "1.0.0", name: "linked"})
	if _, err := in.Install(ctx, Request{Source: src, NoStart: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(paths.ModuleDir("linked"), "logs"), 0o700); err != nil {
		t.Fatal(err)
	}

	res, err := in.Uninstall(ctx, UninstallRequest{Short: "linked"})
	if err != nil {
		t.Fatal(err)
	}
	if res.KeptDir != src || res.Package != "" || res.Purged != "" {
		t.Fatalf("uninstall = %+v, want the linked dir kept and nothing purged", res)
	}
	if _, err := os.Stat(filepath.Join(src, "package.json")); err != nil {
		t.Fatalf("a linked checkout was touched: %v", err)
	}
	if d := cmp.Diff([]string{"stop linked"}, rt.Events()); d != "" {
		t.Fatalf("runtime events (-want +got):\n%s", d)
	}

	if _, err := in.Uninstall(ctx, UninstallRequest{Short: "linked"}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("second uninstall: %v, want ErrNotInstalled", err)
	}
	res, err = in.Uninstall(ctx, UninstallRequest{Short: "linked", Purge: true})
	if err != nil || res.Purged != paths.ModuleDir("linked") {
		t.Fatalf("purge after uninstall = %+v, %v", res, err)
	}
	if _, err := os.Stat(paths.ModuleDir("linked")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("module dir after purge: %v", err)
	}
	for _, bad := range []string{"..", "hub", "a/b", ""} {
		if _, err := in.Uninstall(ctx, UninstallRequest{Short: bad, Purge: true}); err == nil {
			t.Fatalf("Uninstall(%q) succeeded", bad)
		}
	}
}

func containsLine(lines []string, part string) bool {
	for _, l := range lines {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}
