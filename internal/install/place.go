package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/openparachute/parachute/internal/manifest"
)

// placement records where a package was put and what it replaced, so a
// failed install or an unhealthy new version can be undone.
type placement struct {
	// pm is the package manager that installed it; nil when the source
	// directory is used in place.
	pm *pkgManager
	// dir is the install directory.
	dir string
	// backup is where the previous contents of dir were moved ("" none).
	backup string
	// fresh reports that dir did not exist before.
	fresh bool
	pkg   string
	// j is the journal of this replacement (nil when used in place); it
	// is on disk from the first move until commit or undo finishes.
	j *journal
}

// place puts the package on disk. A directory is used in place. Anything
// else is installed globally by the package manager that owns the current
// install (else the preferred one), after moving the current package
// directory aside so it can be put back. Every move is announced in the
// install journal first, so Recover can finish or undo it after a crash.
// The package name is checked against npm's rules and the directories it
// yields against the manager's root before anything on disk changes.
func (in *Installer) place(ctx context.Context, src Source, old *manifest.Service, op, short string) (placement, error) {
	if src.Kind == SourceDir {
		return placement{dir: src.Path}, nil
	}
	if err := CheckPackageName(src.Package); err != nil {
		return placement{}, fmt.Errorf("refusing to install %s: %w", src.Arg, err)
	}
	pm, ok := pkgManager{}, false
	if old != nil {
		pm, ok = in.owner(ctx, old.InstallDir)
	}
	if !ok {
		var err error
		if pm, err = in.preferred(ctx); err != nil {
			return placement{}, err
		}
	}
	pl := placement{pm: &pm, dir: pm.dir(src.Package), pkg: src.Package}
	if err := checkInside(pm.root, pl.dir); err != nil {
		return placement{}, fmt.Errorf("refusing to install %s: %w", src.Arg, err)
	}
	pl.j = &journal{Op: op, Module: short, Package: src.Package, Root: pm.root, Dir: pl.dir, OldRow: old}
	if _, err := os.Lstat(pl.dir); err == nil {
		pl.backup = backupPath(pl.dir)
		if err := checkInside(pm.root, pl.backup); err != nil {
			return placement{}, fmt.Errorf("refusing to install %s: %w", src.Arg, err)
		}
		if err := in.moveAside(&pl); err != nil {
			return pl, err
		}
	} else {
		pl.fresh = true
		pl.j.Step = stepMovedAside
		if err := writeJournal(in.paths.Root, pl.j); err != nil {
			return pl, err
		}
	}
	step := fmt.Sprintf("installing %s with %s", src.Spec, pm.name)
	end := in.rep.Begin(step)
	_, err := in.run(ctx, pm.addCmd(src.Spec))
	_, statErr := os.Stat(filepath.Join(pl.dir, "package.json"))
	var ce *CmdError
	switch {
	case err != nil && statErr == nil && errors.As(err, &ce):
		// bun 1.2.x exits 1 after some successful global installs
		// (reference lifecycle.md §9.32): believe the disk.
		end(nil)
		in.rep.Warn(fmt.Sprintf("%s exited %d, but %s is installed at %s; continuing.", pm.name, ce.Code, src.Package, pl.dir))
	case err != nil:
		end(err)
		in.undoQuiet(ctx, pl)
		return pl, fmt.Errorf("%s: %w", step, err)
	case statErr != nil:
		end(statErr)
		in.undoQuiet(ctx, pl)
		return pl, fmt.Errorf("%s finished, but %s has no package.json — the package name in %s may differ from %q",
			step, pl.dir, src.Arg, src.Package)
	default:
		end(nil)
	}
	hook("installed")
	return pl, nil
}

// moveAside moves the installed package to its backup path, journaled:
// "moving-aside" before (a stale backup is removed first), "moved-aside"
// after. When it fails, dir is as it was and no journal is left.
func (in *Installer) moveAside(pl *placement) error {
	pl.j.Prev, pl.j.Step = pl.backup, stepMovingAside
	if err := writeJournal(in.paths.Root, pl.j); err != nil {
		return err
	}
	if err := os.RemoveAll(pl.backup); err != nil {
		return errors.Join(fmt.Errorf("clearing an old backup at %s: %w", pl.backup, err), clearJournal(in.paths.Root))
	}
	if err := os.Rename(pl.dir, pl.backup); err != nil {
		return errors.Join(fmt.Errorf("keeping the installed %s aside at %s: %w", pl.pkg, pl.backup, err), clearJournal(in.paths.Root))
	}
	hook("renamed")
	pl.j.Step = stepMovedAside
	if err := writeJournal(in.paths.Root, pl.j); err != nil {
		if rerr := os.Rename(pl.backup, pl.dir); rerr != nil {
			return errors.Join(err, fmt.Errorf("putting %s back: %w", pl.dir, rerr))
		}
		return errors.Join(err, clearJournal(in.paths.Root))
	}
	return nil
}

// backupPath is a sibling of dir that package managers ignore (their
// names never start with a dot), on the same file system so moving the
// package aside and back is a rename.
func backupPath(dir string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".parachute-prev")
}

// undo puts back what place replaced, or removes what it installed. It
// leaves the journal: the caller clears it once the services.json row is
// right too (undoQuiet does, for failures before the row changed).
func (in *Installer) undo(ctx context.Context, pl placement) error {
	if pl.pm == nil {
		return nil
	}
	if pl.backup != "" {
		if err := os.RemoveAll(pl.dir); err != nil {
			return fmt.Errorf("removing the new %s: %w", pl.dir, err)
		}
		if err := os.Rename(pl.backup, pl.dir); err != nil {
			return fmt.Errorf("restoring %s from %s: %w", pl.dir, pl.backup, err)
		}
		return nil
	}
	if pl.fresh {
		if _, err := os.Stat(pl.dir); err == nil {
			if _, err := in.run(ctx, pl.pm.removeCmd(pl.pkg)); err != nil {
				in.rep.Warn(fmt.Sprintf("could not remove %s again: %v", pl.pkg, err))
			}
			_ = os.RemoveAll(pl.dir)
		}
	}
	return nil
}

// undoQuiet undoes a placement whose row was not touched and clears its
// journal. A failed undo keeps the journal, so Recover tries again.
func (in *Installer) undoQuiet(ctx context.Context, pl placement) {
	if err := in.undo(ctx, pl); err != nil {
		in.rep.Warn(err.Error() + " — the next install, upgrade or hub start will retry")
		return
	}
	in.endJournal(pl)
}

// endJournal clears pl's journal (if any), warning when it cannot.
func (in *Installer) endJournal(pl placement) {
	if pl.j == nil {
		return
	}
	if err := clearJournal(in.paths.Root); err != nil {
		in.rep.Warn(err.Error())
	}
}

// journalStep records that the replacement reached step.
func (in *Installer) journalStep(pl placement, step, short string) error {
	if pl.j == nil {
		return nil
	}
	pl.j.Step = step
	if short != "" {
		pl.j.Module = short
	}
	return writeJournal(in.paths.Root, pl.j)
}

// commit drops the previous version once the new one is accepted.
func (in *Installer) commit(pl placement) {
	if pl.j == nil {
		return
	}
	if pl.backup != "" {
		if err := in.journalStep(pl, stepCommitting, ""); err != nil {
			in.rep.Warn(err.Error())
			return // the journal still says roll back: keep the backup
		}
		if err := os.RemoveAll(pl.backup); err != nil {
			in.rep.Warn(fmt.Sprintf("could not remove the previous version at %s: %v", pl.backup, err))
			return // the journal says committing: the next recovery removes it
		}
		hook("prev-removed")
	}
	in.endJournal(pl)
}
