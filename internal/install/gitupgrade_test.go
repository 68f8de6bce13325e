package install

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/testenv"
)

// TestGitUpgradeResetsAnInvalidCommit: a pulled commit whose module.json
// names another module is refused before its row changes, and the
// checkout is reset to the commit it was on; nothing is restarted.
func TestGitUpgradeResetsAnInvalidCommit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Unavailable(t, "git not installed")
	}
	ctx := context.Background()
	base := t.TempDir()
	upstream, checkout := filepath.Join(base, "upstream"), filepath.Join(base, "checkout")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(name, version string) {
		writeModule(t, upstream, fixture{pkg: "linked-mod", version: version, name: name, port: 4500})
		git(upstream, "add", "-A")
		git(upstream, "commit", "-q", "-m", name+" "+version)
	}
	if err := os.MkdirAll(upstream, 0o755); err != nil {
		t.Fatal(err)
	}
	git(upstream, "init", "-q", "-b", "main")
	commit("linked", "1.0.0")
	git(base, "clone", "-q", upstream, checkout)

	rt := &fakeRuntime{}
	in, paths, _ := newTestInstaller(t, rt, nil, nil)
	rt.paths = paths
	if _, err := in.Install(ctx, Request{Source: checkout, NoStart: true}); err != nil {
		t.Fatal(err)
	}
	before := git(checkout, "rev-parse", "HEAD")
	commit("renamed", "2.0.0")

	_, err := in.Upgrade(ctx, UpgradeRequest{Short: "linked"})
	wantErrContains(t, err, `is the module "renamed", not "linked"`)
	if head := git(checkout, "rev-parse", "HEAD"); head != before {
		t.Errorf("HEAD after a refused commit = %s, want %s", head, before)
	}
	f, err := manifest.Load(paths.ServicesJSON())
	if err != nil {
		t.Fatal(err)
	}
	if row, ok := f.Find("linked"); !ok || row.Version != "1.0.0" {
		t.Errorf("row after a refused commit = %+v (found %v), want version 1.0.0", row, ok)
	}
	if ev := rt.Events(); len(ev) != 0 {
		t.Errorf("runtime events = %v, want none", ev)
	}
}
