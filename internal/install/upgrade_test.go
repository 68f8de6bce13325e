package install

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openparachute/parachute/internal/testenv"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

// fakeNPM stands in for npm (the registry cannot be faked otherwise): it
// records each argv and installs packages by writing their files.
type fakeNPM struct {
	root string
	tags map[string]string // dist-tag → version
	// noManifest installs packages without .parachute/module.json.
	noManifest bool

	mu    sync.Mutex
	calls []string
}

func (f *fakeNPM) run(_ context.Context, c Cmd) ([]byte, int, error) {
	f.mu.Lock()
	f.calls = append(f.calls, strings.Join(c.Args, " "))
	f.mu.Unlock()
	resolve := func(spec string) (string, string) {
		name, tag := splitSpec(spec)
		if v, ok := f.tags[tag]; ok {
			return name, v
		}
		return name, tag
	}
	switch c.Args[0] {
	case "root":
		return []byte(f.root + "\n"), 0, nil
	case "view":
		_, v := resolve(c.Args[1])
		return []byte(v + "\n"), 0, nil
	case "install":
		name, v := resolve(c.Args[len(c.Args)-1])
		dir := filepath.Join(f.root, name)
		if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
			return nil, -1, err
		}
		pj := `{"name":"` + name + `","version":"` + v + `"}`
		mj := `{"name":"fixture","port":4400,"startCmd":["true"]}`
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pj), 0o644); err != nil {
			return nil, -1, err
		}
		if f.noManifest {
			return nil, 0, os.RemoveAll(filepath.Join(dir, ".parachute"))
		}
		return nil, 0, os.WriteFile(filepath.Join(dir, ".parachute", "module.json"), []byte(mj), 0o644)
	}
	return []byte("fake npm: unexpected " + c.String()), 1, nil
}

func (f *fakeNPM) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// TestRegistryUpgradeChannel checks the npm argv an upgrade produces: the
// channel follows the installed version unless given, and nothing is
// installed when the registry has nothing newer.
func TestRegistryUpgradeChannel(t *testing.T) {
	tests := []struct {
		name      string
		installed string
		req       UpgradeRequest
		tags      map[string]string
		wantCalls []string
		wantVer   string
		wantErr   error
	}{
		{name: "prerelease follows rc", installed: "1.0.0-rc.1", tags: map[string]string{"rc": "1.0.0-rc.2", "latest": "0.9.0"},
			wantCalls: []string{"root -g", "view parachute-fixture@rc version", "install -g --no-fund --no-audit parachute-fixture@rc"}, wantVer: "1.0.0-rc.2"},
		{name: "release follows latest", installed: "1.0.0", tags: map[string]string{"rc": "1.1.0-rc.1", "latest": "1.0.1"},
			wantCalls: []string{"root -g", "view parachute-fixture@latest version", "install -g --no-fund --no-audit parachute-fixture@latest"}, wantVer: "1.0.1"},
		{name: "channel flag overrides", installed: "1.0.0", req: UpgradeRequest{Channel: "rc"}, tags: map[string]string{"rc": "1.1.0-rc.1"},
			wantCalls: []string{"root -g", "view parachute-fixture@rc version", "install -g --no-fund --no-audit parachute-fixture@rc"}, wantVer: "1.1.0-rc.1"},
		{name: "tag is exact", installed: "1.0.0", req: UpgradeRequest{Tag: "1.2.0"},
			wantCalls: []string{"root -g", "install -g --no-fund --no-audit parachute-fixture@1.2.0"}, wantVer: "1.2.0"},
		{name: "nothing newer", installed: "1.0.0", tags: map[string]string{"latest": "1.0.0"},
			wantCalls: []string{"root -g", "view parachute-fixture@latest version"}, wantVer: "1.0.0"},
		{name: "rc moved back below the installed version", installed: "1.0.0-rc.3", tags: map[string]string{"rc": "0.9.0"},
			wantCalls: []string{"root -g", "view parachute-fixture@rc version"}, wantErr: ErrDowngrade},
		{name: "downgrade allowed", installed: "1.0.0-rc.3", req: UpgradeRequest{AllowDowngrade: true}, tags: map[string]string{"rc": "0.9.0"},
			wantCalls: []string{"root -g", "view parachute-fixture@rc version", "install -g --no-fund --no-audit parachute-fixture@rc"}, wantVer: "0.9.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			bin := t.TempDir()
			if err := os.WriteFile(filepath.Join(bin, "npm"), []byte("#!/bin/sh\nexit 99\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			npm := &fakeNPM{root: filepath.Join(t.TempDir(), "lib", "node_modules"), tags: tc.tags}
			if _, _, err := npm.run(ctx, Cmd{Args: []string{"install", "-g", "parachute-fixture@" + tc.installed}}); err != nil {
				t.Fatal(err)
			}
			npm.calls = nil
			paths := config.Paths{Root: root}
			rt := &fakeRuntime{paths: paths}
			in := New(Options{Paths: paths, Runner: npm.run, Environ: func() []string { return []string{"PATH=" + bin, "HOME=" + root} },
				Ports: fakePorts{}, Runtime: rt})
			err := manifest.Upsert(paths.ServicesJSON(), manifest.Service{Name: "fixture", Port: 4400, Paths: []string{"/fixture"},
				Health: "/fixture/health", Version: tc.installed, InstallDir: filepath.Join(npm.root, "parachute-fixture")})
			if err != nil {
				t.Fatal(err)
			}
			tc.req.Short = "fixture"
			res, err := in.Upgrade(ctx, tc.req)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.wantCalls, npm.Calls()); d != "" {
				t.Fatalf("npm calls (-want +got):\n%s", d)
			}
			if tc.wantErr != nil {
				return
			}
			if res.Version != tc.wantVer {
				t.Fatalf("version = %s, want %s", res.Version, tc.wantVer)
			}
			restarted := len(rt.Events()) > 0
			if restarted == res.Unchanged {
				t.Fatalf("restarted = %v with unchanged = %v; events %v", restarted, res.Unchanged, rt.Events())
			}
		})
	}
}

// TestGitUpgrade pulls a linked checkout: a new commit upgrades and
// restarts, an unhealthy one is reset, a dirty tree is refused.
func TestGitUpgrade(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Unavailable(t, "git not installed")
	}
	ctx := context.Background()
	base := t.TempDir()
	upstream := filepath.Join(base, "upstream")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		// Stdout alone: rev-parse's hash is compared, git's hints are not.
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v\n%s%s", args, err, out, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	commitVersion := func(v string) {
		writeModule(t, upstream, fixture{pkg: "linked-mod", version: v, name: "linked", port: 4500})
		git(upstream, "add", "-A")
		git(upstream, "commit", "-q", "-m", "v"+v)
	}
	if err := os.MkdirAll(upstream, 0o755); err != nil {
		t.Fatal(err)
	}
	git(upstream, "init", "-q", "-b", "main")
	commitVersion("1.0.0")
	checkout := filepath.Join(base, "checkout")
	git(base, "clone", "-q", upstream, checkout)

	rt := &fakeRuntime{}
	in, paths, _ := newTestInstaller(t, rt, nil, nil)
	rt.paths = paths
	if _, err := in.Install(ctx, Request{Source: checkout}); err != nil {
		t.Fatal(err)
	}

	t.Run("up to date", func(t *testing.T) {
		res, err := in.Upgrade(ctx, UpgradeRequest{Short: "linked"})
		if err != nil || !res.Unchanged {
			t.Fatalf("upgrade = %+v, %v; want unchanged", res, err)
		}
	})
	t.Run("new commit", func(t *testing.T) {
		commitVersion("1.1.0")
		res, err := in.Upgrade(ctx, UpgradeRequest{Short: "linked"})
		if err != nil || res.Version != "1.1.0" || !res.Started {
			t.Fatalf("upgrade = %+v, %v", res, err)
		}
	})
	t.Run("unhealthy commit is reset", func(t *testing.T) {
		good := git(checkout, "rev-parse", "HEAD")
		commitVersion("1.2.0")
		rt.fail = func(row manifest.Service) error {
			if row.Version == "1.2.0" {
				return errors.New("not ready")
			}
			return nil
		}
		defer func() { rt.fail = nil }()
		_, err := in.Upgrade(ctx, UpgradeRequest{Short: "linked"})
		var rb *RollbackError
		if !errors.As(err, &rb) || rb.RestoreErr != nil {
			t.Fatalf("err = %v, want a clean rollback", err)
		}
		if head := git(checkout, "rev-parse", "HEAD"); head != good {
			t.Fatalf("HEAD after rollback = %s, want %s", head, good)
		}
		if v := rows(t, paths)["linked"].Version; v != "1.1.0" {
			t.Fatalf("row version after rollback = %s", v)
		}
	})
	t.Run("dirty tree refused", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(checkout, "scratch.txt"), []byte("wip"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := in.Upgrade(ctx, UpgradeRequest{Short: "linked"})
		if !errors.Is(err, ErrDirtyTree) {
			t.Fatalf("err = %v, want ErrDirtyTree", err)
		}
		wantErrContains(t, err, "commit or stash")
	})
	t.Run("not installed", func(t *testing.T) {
		_, err := in.Upgrade(ctx, UpgradeRequest{Short: "nope"})
		if !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("err = %v, want ErrNotInstalled", err)
		}
		wantErrContains(t, err, "parachute install nope")
	})
}

// TestKnownModuleInstall installs a first-party module by short name: the
// npm spec follows the channel, a package without module.json gets the
// built-in manifest, and the row carries the canonical name and port.
func TestKnownModuleInstall(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte("#!/bin/sh\nexit 99\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	npm := &fakeNPM{root: filepath.Join(t.TempDir(), "lib", "node_modules"), tags: map[string]string{"latest": "0.5.0", "rc": "0.6.0-rc.1"}, noManifest: true}
	paths := config.Paths{Root: root}
	rt := &fakeRuntime{paths: paths}
	env := []string{"PATH=" + bin, "HOME=" + root}
	in := New(Options{Paths: paths, Runner: npm.run, Environ: func() []string { return env }, Ports: fakePorts{}, Runtime: rt})

	res, err := in.Install(ctx, Request{Source: "scribe", DryRun: true})
	if err != nil || !res.DryRun || len(npm.Calls()) > 1 {
		t.Fatalf("dry run = %+v, %v; npm calls %v", res, err, npm.Calls())
	}
	res, err = in.Install(ctx, Request{Source: "scribe"})
	if err != nil {
		t.Fatal(err)
	}
	row := rows(t, paths)["parachute-scribe"]
	want := manifest.Service{Name: "parachute-scribe", Port: 1943, Paths: []string{"/scribe"}, Health: "/scribe/health", Version: "0.5.0",
		DisplayName: "Scribe", Tagline: "Local audio transcription for vault recordings.", InstallDir: filepath.Join(npm.root, "@openparachute", "scribe"),
		StripPrefix: row.StripPrefix}
	if d := cmp.Diff(want, row); d != "" || row.StripPrefix == nil || !*row.StripPrefix {
		t.Fatalf("scribe row (-want +got):\n%s\nstripPrefix %v", d, row.StripPrefix)
	}
	if res.Short != "scribe" || !res.Started {
		t.Fatalf("result = %+v", res)
	}

	// Reinstalling without a channel follows the installed one; asking for
	// rc moves to rc, and a later plain install stays there.
	if _, err := in.Install(ctx, Request{Source: "scribe", Channel: "rc"}); err != nil {
		t.Fatal(err)
	}
	npm.calls = nil
	res, err = in.Install(ctx, Request{Source: "scribe"})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{"view @openparachute/scribe@rc version", "install -g --no-fund --no-audit @openparachute/scribe@rc"}
	if d := cmp.Diff(wantCalls, npm.Calls()); d != "" || res.Version != "0.6.0-rc.1" {
		t.Fatalf("plain reinstall on rc: version %s, npm calls (-want +got):\n%s", res.Version, d)
	}
	// An explicit latest would be a downgrade from the rc.
	if _, err := in.Install(ctx, Request{Source: "scribe", Channel: "latest"}); !errors.Is(err, ErrDowngrade) {
		t.Fatalf("install scribe --channel latest over an rc: %v, want ErrDowngrade", err)
	}
}
