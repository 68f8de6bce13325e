package install

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openparachute/parachute/internal/manifest"
)

// UninstallRequest is one uninstall.
type UninstallRequest struct {
	Short string
	// Purge also removes <root>/<short>/ (its .env, logs and data).
	Purge bool
}

// UninstallResult describes what an uninstall did.
type UninstallResult struct {
	Short string
	// Rows are the services.json rows removed.
	Rows []string
	// Package is the npm package removed ("" when none was), with Manager.
	Package, Manager string
	// KeptDir is an install directory left in place because parachute did
	// not install it (a linked checkout).
	KeptDir string
	// Purged is the module directory removed by Purge ("" when none).
	Purged string
}

// Uninstall stops the module (given a Runtime), removes its services.json
// rows (for vault, every instance row too), removes its package when a
// package manager installed it, and with Purge removes <root>/<short>/.
// A module with no row is ErrNotInstalled, unless Purge finds its directory.
func (in *Installer) Uninstall(ctx context.Context, req UninstallRequest) (*UninstallResult, error) {
	short := manifest.ShortName(req.Short)
	if !validShort(short) {
		return nil, fmt.Errorf("%q is not a module name", req.Short)
	}
	unlock, err := in.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := in.recoverInterrupted(); err != nil {
		return nil, err
	}

	res := &UninstallResult{Short: short}
	rows, err := in.rowsOf(short)
	if err != nil {
		return nil, err
	}
	modDir := in.paths.ModuleDir(short)
	_, statErr := os.Stat(modDir)
	purge := req.Purge && statErr == nil
	if len(rows) == 0 && !purge {
		return nil, fmt.Errorf("%w: %s has no services.json entry in %s", ErrNotInstalled, short, in.paths.ServicesJSON())
	}
	if len(rows) > 0 {
		if err := in.stopModule(ctx, short); err != nil {
			return nil, err
		}
		if res.Rows, err = in.removeRows(short); err != nil {
			return nil, err
		}
	}
	if err := in.removePackages(ctx, short, rows, res); err != nil {
		return res, err
	}
	if purge {
		if err := purgeDir(in.paths.Root, modDir); err != nil {
			return res, err
		}
		res.Purged = modDir
		in.rep.Info("✓ removed " + modDir)
	}
	return res, nil
}

// rowsOf returns short's services.json rows: its main row and, for vault,
// its instance rows.
func (in *Installer) rowsOf(short string) ([]manifest.Service, error) {
	f, err := manifest.Load(in.paths.ServicesJSON())
	if err != nil {
		return nil, err
	}
	var rows []manifest.Service
	for _, s := range f.Services {
		if manifest.ShortName(s.Name) == short {
			rows = append(rows, s)
		}
	}
	return rows, nil
}

// stopModule stops short through the Runtime, when a hub runs.
func (in *Installer) stopModule(ctx context.Context, short string) error {
	if in.rt == nil {
		return nil
	}
	end := in.rep.Begin("stopping " + short)
	err := in.rt.Stop(ctx, short)
	end(err)
	if err != nil {
		return fmt.Errorf("stopping %s: %w", short, err)
	}
	return nil
}

// removeRows removes short's rows from services.json under its lock and
// returns their names.
func (in *Installer) removeRows(short string) ([]string, error) {
	var removed []string
	err := manifest.Update(in.paths.ServicesJSON(), func(f *manifest.File) error {
		kept := f.Services[:0]
		for _, s := range f.Services {
			if manifest.ShortName(s.Name) == short {
				removed = append(removed, s.Name)
				continue
			}
			kept = append(kept, s)
		}
		f.Services = kept
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("removing %s from %s: %w", short, in.paths.ServicesJSON(), err)
	}
	for _, r := range removed {
		in.rep.Info(fmt.Sprintf("✓ removed %s from services.json", r))
	}
	return removed, nil
}

// removePackages removes the package behind short's main row (instance
// rows share it), found through the row's installDir or, for a
// first-party module seeded before installDir was recorded, the package
// manager.
func (in *Installer) removePackages(ctx context.Context, short string, rows []manifest.Service, res *UninstallResult) error {
	for _, row := range rows {
		if row.Name != rowName(short) {
			continue // vault instance rows share the main row's package
		}
		dir := row.InstallDir
		if k, ok := manifest.KnownByShort(short); ok && dir == "" {
			dir, _ = in.locate(ctx, k.Package) // a row seeded before installDir was recorded
		}
		if dir == "" {
			continue
		}
		if err := in.removePackage(ctx, dir, res); err != nil {
			return err
		}
	}
	return nil
}

// removePackage removes the package at dir when a package manager put it
// there; a directory parachute did not install is left alone.
func (in *Installer) removePackage(ctx context.Context, dir string, res *UninstallResult) error {
	pm, ok := in.owner(ctx, dir)
	if !ok {
		res.KeptDir = dir
		in.rep.Info(fmt.Sprintf("left %s in place (parachute did not install it)", dir))
		return nil
	}
	pkg, err := readPackageJSON(dir)
	if err != nil || pkg.Name == "" {
		return fmt.Errorf("finding the package name of %s: %w", dir, err)
	}
	if err := CheckPackageName(pkg.Name); err != nil {
		return fmt.Errorf("finding the package name of %s: %w", dir, err)
	}
	end := in.rep.Begin(fmt.Sprintf("removing %s with %s", pkg.Name, pm.name))
	_, err = in.run(ctx, pm.removeCmd(pkg.Name))
	end(err)
	if err != nil {
		return fmt.Errorf("removing %s: %w", pkg.Name, err)
	}
	res.Package, res.Manager = pkg.Name, pm.name
	return nil
}

// purgeDir removes dir, which must be a direct child of root: a bad short
// name must never turn --purge into removing something else.
func purgeDir(root, dir string) error {
	if filepath.Dir(filepath.Clean(dir)) != filepath.Clean(root) {
		return fmt.Errorf("refusing to remove %s: not a module directory directly under %s", dir, root)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

// validShort accepts module names that are safe as one path element.
func validShort(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 128 || reservedNames[s] {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
