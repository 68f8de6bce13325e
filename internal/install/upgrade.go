package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openparachute/parachute/internal/manifest"
)

// ErrDirtyTree means a linked checkout has uncommitted changes.
var ErrDirtyTree = errors.New("dirty working tree")

// ErrNothingToUpgrade means the module is used in place from a directory
// that is neither a package-manager install nor a git checkout.
var ErrNothingToUpgrade = errors.New("nothing to upgrade from")

// UpgradeRequest is one module upgrade.
type UpgradeRequest struct {
	Short string
	// From upgrades from this source (a directory, a .tgz or an npm spec)
	// instead of following the install (registry channel or git).
	From string
	// Channel ("rc" or "latest") overrides the channel the installed
	// version follows (a prerelease follows rc); Tag (a dist-tag or exact
	// version) overrides both.
	Channel, Tag string
	// AllowDowngrade permits moving to an older version.
	AllowDowngrade bool
	// DryRun reports the plan and changes nothing.
	DryRun bool
}

// Upgrade brings an installed module to a newer version and restarts it
// through the Runtime (if any) once the new version is on disk. Nothing
// restarts when the version did not change. A package installed by bun or
// npm is upgraded from the registry on its channel; a git checkout is
// pulled (--ff-only, refused on a dirty tree). If the new version does
// not become ready, the previous one is put back and restarted and the
// error is a *RollbackError.
func (in *Installer) Upgrade(ctx context.Context, req UpgradeRequest) (*Result, error) {
	if err := CheckChannel(req.Channel); err != nil {
		return nil, err
	}
	short := manifest.ShortName(req.Short)
	unlock, err := in.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := in.recoverInterrupted(); err != nil {
		return nil, err
	}
	row, err := in.findRow(short)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("%w: %s — run `parachute install %s` first", ErrNotInstalled, short, short)
	}
	r := Request{Channel: req.Channel, Tag: req.Tag, AllowDowngrade: req.AllowDowngrade, DryRun: req.DryRun, upgrade: true}
	if req.From != "" {
		src, err := ParseSource(req.From, SourceOptions{Channel: req.Channel, Tag: req.Tag, DefaultChannel: DetectChannel(row.Version)})
		if err != nil {
			return nil, err
		}
		return in.apply(ctx, src, r, short)
	}

	dir := row.InstallDir
	k, known := manifest.KnownByShort(short)
	if dir == "" && known {
		dir, _ = in.locate(ctx, k.Package)
	}
	if dir == "" {
		return nil, fmt.Errorf("%s: services.json does not say where it is installed (no installDir) — reinstall with `parachute install %s`", short, short)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%s: install directory %s is missing (%w) — reinstall with `parachute install %s`", short, dir, err, short)
	}
	if pm, ok := in.owner(ctx, dir); ok {
		pkg, err := readPackageJSON(dir)
		if err != nil || pkg.Name == "" {
			return nil, fmt.Errorf("%s: finding the package name in %s: %w", short, dir, err)
		}
		// The installed package.json is as untrusted as the tarball it
		// came from (and a postinstall script may have rewritten it).
		if err := CheckPackageName(pkg.Name); err != nil {
			return nil, fmt.Errorf("%s: the package.json in %s: %w — reinstall the module", short, dir, err)
		}
		tag := firstNonEmpty(req.Tag, req.Channel, DetectChannel(firstNonEmpty(row.Version, pkg.Version)))
		src := Source{Kind: SourceRegistry, Arg: pkg.Name + "@" + tag, Package: pkg.Name, Spec: pkg.Name + "@" + tag}
		if kk, ok := knownByPackage(pkg.Name); ok {
			src.Known = &kk
		}
		if isExactVersion(tag) {
			src.Version = strings.TrimPrefix(tag, "v")
		}
		in.rep.Info(fmt.Sprintf("%s: installed with %s at %s; following %s", short, pm.name, dir, tag))
		return in.apply(ctx, src, r, short)
	}
	if in.isGitCheckout(ctx, dir) {
		var kp *manifest.Known
		if known {
			kp = &k
		}
		return in.gitUpgrade(ctx, short, *row, dir, kp, r)
	}
	return nil, fmt.Errorf("%w: %s is used in place from %s, which is neither a bun/npm install nor a git checkout — "+
		"install the new version with `parachute install <directory|.tgz|npm-spec>` or `parachute upgrade %s --from <...>`", ErrNothingToUpgrade, short, dir, short)
}

func (in *Installer) isGitCheckout(ctx context.Context, dir string) bool {
	git, err := in.lookPath("git")
	if err != nil {
		return false
	}
	out, err := in.run(ctx, Cmd{Dir: dir, Name: git, Args: []string{"rev-parse", "--is-inside-work-tree"}})
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// gitUpgrade pulls a linked checkout fast-forward only, reinstalls its
// dependencies when the lockfile changed, and restarts it; an unhealthy
// result is reset to the previous commit and restarted.
func (in *Installer) gitUpgrade(ctx context.Context, short string, row manifest.Service, dir string, k *manifest.Known, req Request) (*Result, error) {
	res := &Result{Short: short, Name: row.Name, Port: row.Port, InstallDir: dir, Version: row.Version, PreviousVersion: row.Version, Source: SourceDir, Replaced: true}
	git := in.gitIn(ctx, dir)
	before, err := in.cleanHead(short, dir, git)
	if err != nil {
		return nil, err
	}
	if req.DryRun {
		in.rep.Info(fmt.Sprintf("%s: would run git pull --ff-only in %s", short, dir))
		res.DryRun = true
		return res, nil
	}
	after, err := in.pullFastForward(short, dir, git)
	if err != nil {
		return nil, err
	}
	if after == before {
		in.rep.Info(fmt.Sprintf("%s: already up to date (%s); nothing restarted", short, short7(before)))
		res.Unchanged = true
		return res, nil
	}
	reset := func() error {
		if _, err := git("reset", "--hard", before); err != nil {
			return fmt.Errorf("resetting %s to %s: %w", dir, short7(before), err)
		}
		return nil
	}
	version, err := in.registerPulled(ctx, short, row, dir, k, git, before, after)
	if err != nil {
		if rerr := reset(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	res.Version = version
	in.rep.Info(fmt.Sprintf("%s: %s → %s", short, short7(before), short7(after)))
	if in.rt == nil {
		return res, nil
	}
	end := in.rep.Begin("restarting " + short)
	err = in.rt.Start(ctx, short)
	end(err)
	if err != nil {
		return res, in.rollback(ctx, short, short7(after), row, err, reset, nil)
	}
	res.Started = true
	return res, nil
}

// gitIn returns a runner of git commands in dir that returns their
// trimmed output.
func (in *Installer) gitIn(ctx context.Context, dir string) func(args ...string) (string, error) {
	git, _ := in.lookPath("git")
	return func(args ...string) (string, error) {
		out, err := in.run(ctx, Cmd{Dir: dir, Name: git, Args: args})
		return strings.TrimSpace(string(out)), err
	}
}

// cleanHead refuses a checkout with uncommitted changes and returns its
// HEAD.
func (in *Installer) cleanHead(short, dir string, git func(...string) (string, error)) (string, error) {
	status, err := git("status", "--porcelain")
	if err != nil {
		return "", fmt.Errorf("%s: git status in %s: %w", short, dir, err)
	}
	if status != "" {
		return "", fmt.Errorf("%w: %s: the checkout at %s has uncommitted changes — commit or stash them, then re-run", ErrDirtyTree, short, dir)
	}
	head, err := git("rev-parse", "HEAD")
	if err != nil {
		return "", fmt.Errorf("%s: reading HEAD in %s: %w", short, dir, err)
	}
	in.rep.Info(fmt.Sprintf("%s: git checkout at %s (%s)", short, dir, short7(head)))
	return head, nil
}

// pullFastForward runs git pull --ff-only and returns the new HEAD.
func (in *Installer) pullFastForward(short, dir string, git func(...string) (string, error)) (string, error) {
	end := in.rep.Begin("git pull --ff-only in " + dir)
	_, err := git("pull", "--ff-only")
	end(err)
	if err != nil {
		return "", fmt.Errorf("%s: git pull --ff-only: %w", short, err)
	}
	head, err := git("rev-parse", "HEAD")
	if err != nil {
		return "", fmt.Errorf("%s: reading HEAD in %s: %w", short, dir, err)
	}
	return head, nil
}

// registerPulled installs the pulled commit's dependencies (when they
// changed), validates its module.json and rewrites the module's row with
// the new version, which it returns. The caller resets the checkout when
// it fails.
func (in *Installer) registerPulled(ctx context.Context, short string, row manifest.Service, dir string, k *manifest.Known, git func(...string) (string, error), before, after string) (string, error) {
	if err := in.installDeps(ctx, dir, git, before, after); err != nil {
		return "", err
	}
	src := Source{Arg: dir, Known: k}
	mod, err := in.moduleAt(dir, src)
	if err == nil {
		err = checkIdentity(src, mod, moduleShort(mod, k), short)
	}
	if err != nil {
		return "", err
	}
	version := placedVersion(dir, mod, row.Version)
	if _, err := in.register(short, mod, k, dir, version, 0, &row); err != nil {
		return "", err
	}
	return version, nil
}

// installDeps reinstalls a checkout's dependencies when its manifest or
// lockfile changed between two commits.
func (in *Installer) installDeps(ctx context.Context, dir string, gitCmd func(...string) (string, error), before, after string) error {
	changed, err := gitCmd("diff", "--name-only", before+".."+after)
	if err != nil {
		return fmt.Errorf("listing changed files in %s: %w", dir, err)
	}
	files := map[string]bool{}
	for _, f := range strings.Split(changed, "\n") {
		files[strings.TrimSpace(f)] = true
	}
	if !files["package.json"] && !files["bun.lock"] && !files["bun.lockb"] && !files["package-lock.json"] {
		return nil
	}
	has := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	bun := in.findBun()
	npm, npmErr := in.lookPath("npm")
	var c Cmd
	switch {
	case bun != "" && (has("bun.lock") || has("bun.lockb")):
		c = Cmd{Dir: dir, Name: bun, Args: []string{"install", "--frozen-lockfile"}}
	case npmErr == nil && has("package-lock.json"):
		c = Cmd{Dir: dir, Name: npm, Args: []string{"ci", "--no-fund", "--no-audit"}}
	case !hasDependencies(dir):
		return nil
	case bun != "":
		c = Cmd{Dir: dir, Name: bun, Args: []string{"install"}}
	case npmErr == nil:
		c = Cmd{Dir: dir, Name: npm, Args: []string{"install", "--no-fund", "--no-audit"}}
	default:
		return fmt.Errorf("%s changed its dependencies, but %w", dir, ErrNoPackageManager)
	}
	end := in.rep.Begin(fmt.Sprintf("installing dependencies (%s)", c))
	_, err = in.run(ctx, c)
	end(err)
	if err != nil {
		return fmt.Errorf("installing dependencies in %s: %w", dir, err)
	}
	return nil
}

// hasDependencies reports whether <dir>/package.json declares any
// dependencies (a checkout without them needs no install step).
func hasDependencies(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return false
	}
	var p struct {
		Dependencies map[string]any `json:"dependencies"`
	}
	return json.Unmarshal(b, &p) == nil && len(p.Dependencies) > 0
}

func short7(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
