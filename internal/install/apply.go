package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/openparachute/parachute/internal/manifest"
)

// apply is the install path shared by Install and Upgrade: check the
// version rules, put the package on disk, validate module.json, register
// the row, start the module, and roll back when a replacement is unhealthy.
// expect, when set, is the short name the source must turn out to be.
func (in *Installer) apply(ctx context.Context, src Source, req Request, expect string) (*Result, error) {
	res := &Result{Source: src.Kind}
	short, old, err := in.target(src, expect)
	if err != nil {
		return nil, err
	}
	if old != nil {
		res.PreviousVersion = old.Version
		src = in.followInstalled(ctx, src, *old)
		if unchanged, err := guard(short, old.Version, src.Version, req); err != nil || unchanged {
			res.Short, res.Name, res.Version, res.Unchanged = short, old.Name, old.Version, unchanged
			return res, err
		}
	}
	if req.DryRun {
		return dryRunResult(res, short, src.Version, old), nil
	}
	pl, err := in.place(ctx, src, old, opName(req), short)
	if err != nil {
		return nil, err
	}
	mod, short, old, err := in.identify(ctx, pl, src, old, expect)
	if err != nil {
		return nil, err
	}
	version := placedVersion(pl.dir, mod, "0.0.0-linked")
	if old != nil && src.Version == "" {
		// The version was unknown before installing (a registry tag
		// without npm view): apply the rules now.
		unchanged, err := in.guardPlaced(ctx, pl, short, old.Version, version, req)
		if err != nil {
			return nil, err
		}
		if unchanged {
			res.Short, res.Name, res.Version, res.Unchanged = short, old.Name, version, true
			return res, nil
		}
	}
	row, err := in.registerPlaced(ctx, pl, short, mod, src.Known, version, req.Port, old)
	if err != nil {
		return nil, err
	}
	in.recordRegistered(res, pl, short, version, row, old)
	if err := in.initPlaced(ctx, pl, row, old, &req); err != nil {
		return nil, err
	}
	in.configure(ctx, short, req)
	return in.startPlaced(ctx, pl, res, old, req.NoStart)
}

// target is the module src names before anything is installed and its
// services.json row (nil when it has none). short is "" when only the
// package itself will tell (a registry package that is not first-party
// and no expect).
func (in *Installer) target(src Source, expect string) (short string, old *manifest.Service, err error) {
	short = sourceShort(src)
	if err := checkExpected(src, short, expect); err != nil {
		return "", nil, err
	}
	if short == "" {
		short = expect // an upgrade of a registry package names its module
	}
	if old, err = in.findRow(short); err != nil {
		return "", nil, err
	}
	return short, old, nil
}

// followInstalled completes a registry source from the installed row: the
// channel it follows and, when the source did not pin one, the version
// the registry would install.
func (in *Installer) followInstalled(ctx context.Context, src Source, old manifest.Service) Source {
	registry := src.Kind == SourceKnown || src.Kind == SourceRegistry
	if src.ChannelDefaulted && registry {
		// Channel stickiness (reference hub#332): an rc install stays
		// on rc unless the operator names a channel.
		src.Spec = src.Package + "@" + DetectChannel(old.Version)
	}
	if src.Version == "" && registry {
		src.Version = in.npmView(ctx, src.Spec)
	}
	return src
}

// dryRunResult fills res with what the install would do.
func dryRunResult(res *Result, short, version string, old *manifest.Service) *Result {
	res.Short, res.Version, res.DryRun = short, version, true
	if old != nil {
		res.Name, res.Port, res.Replaced = old.Name, old.Port, true
	}
	return res
}

// opName names the operation in the install journal.
func opName(req Request) string {
	if req.upgrade {
		return "upgrade"
	}
	return "install"
}

// identify reads and validates the placed package's module.json and
// settles which module it is: its short name (checked against expect and
// the names that belong to Parachute) and, when the source did not tell
// before placing, its installed row. A failure undoes the placement.
func (in *Installer) identify(ctx context.Context, pl placement, src Source, old *manifest.Service, expect string) (*manifest.Module, string, *manifest.Service, error) {
	mod, err := in.moduleAt(pl.dir, src)
	short := ""
	if err == nil {
		short = moduleShort(mod, src.Known)
		err = checkIdentity(src, mod, short, expect)
	}
	if err == nil && old == nil {
		old, err = in.findRow(short)
	}
	if err != nil {
		in.undoQuiet(ctx, pl)
		return nil, "", nil, err
	}
	return mod, short, old, nil
}

// placedVersion is the version of the package in dir: its package.json,
// else its module.json, else fallback.
func placedVersion(dir string, mod *manifest.Module, fallback string) string {
	pkg, _ := readPackageJSON(dir)
	return firstNonEmpty(versionOf(pkg, mod), fallback)
}

// guardPlaced applies the version rules once the placed package has told
// its version: a refusal undoes the placement; an unchanged version keeps
// it (the files are that same version) and commits.
func (in *Installer) guardPlaced(ctx context.Context, pl placement, short, installed, version string, req Request) (unchanged bool, err error) {
	unchanged, err = guard(short, installed, version, req)
	switch {
	case err != nil:
		in.undoQuiet(ctx, pl)
	case unchanged:
		in.commit(pl)
	}
	return unchanged, err
}

// registerPlaced journals the registering step, with the row to put back
// (which may only now be known), and writes the module's services.json
// row. A failure undoes the placement.
func (in *Installer) registerPlaced(ctx context.Context, pl placement, short string, mod *manifest.Module, k *manifest.Known, version string, port int, old *manifest.Service) (manifest.Service, error) {
	if pl.j != nil && pl.j.OldRow == nil {
		pl.j.OldRow = old // a row found only once the module's name was known
	}
	if err := in.journalStep(pl, stepRegistering, short); err != nil {
		in.undoQuiet(ctx, pl)
		return manifest.Service{}, err
	}
	row, err := in.register(short, mod, k, pl.dir, version, port, old)
	if err != nil {
		in.undoQuiet(ctx, pl)
		return manifest.Service{}, err
	}
	hook("registered")
	return row, nil
}

// recordRegistered fills res from the registered row and tells the
// operator.
func (in *Installer) recordRegistered(res *Result, pl placement, short, version string, row manifest.Service, old *manifest.Service) {
	res.Short, res.Name, res.Port, res.InstallDir, res.Version = short, row.Name, row.Port, row.InstallDir, version
	res.Replaced = old != nil
	if pl.pm != nil {
		res.Manager = pl.pm.name
	}
	if old != nil {
		in.rep.Info(fmt.Sprintf("✓ %s %s → %s registered on port %d", row.Name, orUnknown(old.Version), version, row.Port))
	} else {
		in.rep.Info(fmt.Sprintf("✓ %s %s registered on port %d", row.Name, version, row.Port))
	}
}

// startPlaced starts the registered module through the Runtime (unless
// there is none, or noStart) and commits the placement once it is ready.
// A new module that does not start stays installed (a *StartError); a
// replacement that does not is rolled back (a *RollbackError).
func (in *Installer) startPlaced(ctx context.Context, pl placement, res *Result, old *manifest.Service, noStart bool) (*Result, error) {
	if in.rt == nil || noStart {
		in.commit(pl)
		return res, nil
	}
	end := in.rep.Begin("starting " + res.Short)
	err := in.rt.Start(ctx, res.Short)
	end(err)
	switch {
	case err == nil:
		in.commit(pl)
		res.Started = true
		return res, nil
	case old == nil:
		in.commit(pl)
		return res, &StartError{Short: res.Short, Err: err}
	}
	return res, in.rollback(ctx, res.Short, res.Version, *old, err, func() error { return in.undo(ctx, pl) }, func() { in.endJournal(pl) })
}

// guard applies the version rules before anything changes: an upgrade to
// the installed version is a no-op, and a downgrade is refused unless
// allowed. Versions that do not parse skip the rules.
func guard(short, installed, target string, req Request) (unchanged bool, err error) {
	c, ok := CompareVersions(target, installed)
	if !ok {
		return false, nil
	}
	if c == 0 && req.upgrade {
		return true, nil
	}
	if c < 0 && !req.AllowDowngrade {
		return false, &DowngradeError{Short: short, Installed: installed, Target: target}
	}
	return false, nil
}

// sourceShort is the module's short name when the source tells it before
// installing ("" for a registry package that is not first-party).
func sourceShort(src Source) string {
	if src.Known != nil {
		return src.Known.Short
	}
	if src.Module != nil {
		return src.Module.Name
	}
	return ""
}

func moduleShort(m *manifest.Module, k *manifest.Known) string {
	if k != nil {
		return k.Short
	}
	return m.Name
}

func checkExpected(src Source, short, expect string) error {
	if expect != "" && short != "" && short != expect {
		return fmt.Errorf("%s is the module %q, not %q", src.Arg, short, expect)
	}
	return nil
}

// checkIdentity refuses a third-party module named like a first-party one
// (it would take over that module's row, port and URL) or a reserved name.
func checkIdentity(src Source, m *manifest.Module, short, expect string) error {
	if err := checkExpected(src, short, expect); err != nil {
		return err
	}
	if src.Known != nil {
		return nil
	}
	if _, ok := manifest.KnownByShort(m.Name); ok || manifest.ShortName(m.Name) != m.Name || reservedNames[m.Name] {
		return fmt.Errorf("%w: %s declares the name %q, which belongs to Parachute itself; rename the module in its .parachute/module.json",
			ErrCollision, src.Arg, m.Name)
	}
	return nil
}

// findRow returns a copy of short's main services.json row, or nil.
func (in *Installer) findRow(short string) (*manifest.Service, error) {
	if short == "" {
		return nil, nil
	}
	f, err := manifest.Load(in.paths.ServicesJSON())
	if err != nil {
		return nil, err
	}
	name := rowName(short)
	for _, s := range f.Services {
		if s.Name == name {
			return &s, nil
		}
	}
	return nil, nil
}

// rowName is the services.json row name of a module.
func rowName(short string) string {
	if k, ok := manifest.KnownByShort(short); ok {
		return k.ManifestName
	}
	return short
}

// moduleAt reads and validates <dir>/.parachute/module.json. A first-party
// package without one gets the hub's built-in manifest.
func (in *Installer) moduleAt(dir string, src Source) (*manifest.Module, error) {
	m, err := manifest.LoadModule(dir)
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, fs.ErrNotExist) && src.Known != nil:
		k := src.Known
		in.rep.Info(fmt.Sprintf("%s ships no .parachute/module.json; using the hub's built-in manifest for %s.", k.Package, k.Short))
		sp := k.StripPrefix
		return &manifest.Module{Name: k.Short, DisplayName: k.DisplayName, Tagline: k.Tagline, Port: k.Port,
			Paths: k.Paths, Health: k.Health, StripPrefix: &sp}, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s ships no .parachute/module.json (%s)", ErrNotModule, src.Arg, manifest.ModulePath(dir))
	}
	return nil, err
}

// register writes the services.json row under the registry's lock. An
// installed module keeps its row's port, exposure, UIs and unknown fields;
// a new one gets a port from assignPort.
func (in *Installer) register(short string, m *manifest.Module, k *manifest.Known, dir, version string, port int, old *manifest.Service) (manifest.Service, error) {
	name := rowName(short)
	var row manifest.Service
	var note string
	err := manifest.Update(in.paths.ServicesJSON(), func(f *manifest.File) error {
		idx := -1
		for i, s := range f.Services {
			if s.Name == name {
				idx, row = i, s
			}
		}
		canonical := m.Port
		if canonical == 0 && k != nil {
			canonical = k.Port
		}
		switch {
		case idx >= 0 && (port == 0 || port == row.Port):
		case idx >= 0:
			p, _, err := assignPort(f, name, 0, port, in.ports)
			if err != nil {
				return err
			}
			row.Port = p
		default:
			p, msg, err := assignPort(f, name, canonical, port, in.ports)
			if err != nil {
				return err
			}
			row = manifest.Service{Name: name, Port: p}
			note = msg
		}
		fillRow(&row, m, k, dir, version)
		if err := checkMounts(f, idx, short, row); err != nil {
			return err
		}
		if idx >= 0 {
			f.Services[idx] = row
		} else {
			f.Services = append(f.Services, row)
		}
		return nil
	})
	if err != nil {
		return row, fmt.Errorf("registering %s in %s: %w", name, in.paths.ServicesJSON(), err)
	}
	if note != "" {
		in.rep.Warn(note)
	}
	return row, nil
}

// fillRow copies the module's declared facts onto its row.
func fillRow(row *manifest.Service, m *manifest.Module, k *manifest.Known, dir, version string) {
	if manifest.IsVaultName(row.Name) && usableMounts(row.Paths) {
		// Vault's mounts are its instances, which its init and create
		// wrote: module.json's one default mount must not drop them.
		m = vaultMounts(m, row.Paths, row.Health)
	}
	row.Paths = m.Paths
	if len(row.Paths) == 0 && k != nil {
		row.Paths = k.Paths
	}
	if len(row.Paths) == 0 {
		row.Paths = []string{"/" + m.Name}
	}
	row.Health = m.Health
	if row.Health == "" && k != nil {
		row.Health = k.Health
	}
	if row.Health == "" {
		row.Health = strings.TrimSuffix(row.Paths[0], "/") + "/health"
	}
	row.Version = version
	row.InstallDir = dir
	row.DisplayName = firstNonEmpty(m.DisplayName, knownField(k, func(k *manifest.Known) string { return k.DisplayName }), row.DisplayName)
	row.Tagline = firstNonEmpty(m.Tagline, knownField(k, func(k *manifest.Known) string { return k.Tagline }), row.Tagline)
	if m.StripPrefix != nil {
		sp := *m.StripPrefix
		row.StripPrefix = &sp
	}
}

func knownField(k *manifest.Known, f func(*manifest.Known) string) string {
	if k == nil {
		return ""
	}
	return f(k)
}

// rollback puts the previous version back after the new one failed to
// become ready: its files (restore), its row, and a restart. restored,
// when set, is called once files and row are the old ones again (before
// the restart, whose failure does not undo that).
func (in *Installer) rollback(ctx context.Context, short, failed string, old manifest.Service, cause error, restore func() error, restored func()) error {
	in.rep.Warn(fmt.Sprintf("%s %s did not become ready: %v", short, failed, cause))
	in.rep.Info(fmt.Sprintf("rolling %s back to %s", short, orUnknown(old.Version)))
	var errs []error
	if err := restore(); err != nil {
		errs = append(errs, err)
	}
	if err := putRow(in.paths.ServicesJSON(), old); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 && restored != nil {
		restored()
	}
	end := in.rep.Begin(fmt.Sprintf("restarting %s %s", short, orUnknown(old.Version)))
	err := in.rt.Start(ctx, short)
	end(err)
	if err != nil {
		errs = append(errs, fmt.Errorf("restarting %s %s: %w", short, old.Version, err))
	}
	return &RollbackError{Short: short, Failed: failed, Restored: old.Version, Cause: cause, RestoreErr: errors.Join(errs...)}
}

func orUnknown(v string) string {
	if v == "" {
		return "(unknown version)"
	}
	return v
}
