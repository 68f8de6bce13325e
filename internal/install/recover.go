package install

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

// The kinds of RecoveryAction.
const (
	// RecoveryRolledBack means the previous version was put back (or a
	// partly installed new package removed).
	RecoveryRolledBack = "rolled-back"
	// RecoveryFinished means the new version had been accepted and only
	// the previous copy was left to remove.
	RecoveryFinished = "finished"
	// RecoveryCleaned means nothing had changed yet; a leftover was removed.
	RecoveryCleaned = "cleaned"
)

// RecoveryAction is one thing Recover did about an interrupted install or
// upgrade.
type RecoveryAction struct {
	// Module is the module's short name, else its npm package.
	Module string
	// Dir is the package directory that was repaired.
	Dir string
	// Kind is RecoveryRolledBack, RecoveryFinished or RecoveryCleaned.
	Kind string
	// Message says what was done, for the operator.
	Message string
}

// Recover finishes or rolls back a package replacement that a crash, a
// kill -9 or a power loss interrupted, so every module has a complete
// package directory and a services.json row that matches it. The hub calls
// it at boot before starting modules; every install, upgrade and uninstall
// calls it first too. Each action is logged (Warn) and returned.
//
// Recover takes the install lock without waiting: when another process
// holds it, the journal belongs to an install in progress and Recover
// leaves it alone (that installer, or the next one, deals with it).
func Recover(paths config.Paths, log *slog.Logger) ([]RecoveryAction, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	unlock, ok, err := tryLockRoot(paths.Root)
	if err != nil {
		return nil, err
	}
	if !ok {
		log.Info("an install, upgrade or uninstall is running; leaving its recovery to it")
		return nil, nil
	}
	defer unlock()
	acts, err := recoverLocked(paths)
	for _, a := range acts {
		log.Warn(a.Message, "module", a.Module, "dir", a.Dir, "recovery", a.Kind)
	}
	if err != nil {
		log.Error("could not finish or roll back an interrupted install; fix the cause, then restart the hub or reinstall the module", "err", err)
	}
	return acts, err
}

// recoverInterrupted is Recover for an installer that holds the lock; it
// reports to the Reporter and refuses to go on when recovery failed.
func (in *Installer) recoverInterrupted() error {
	acts, err := recoverLocked(in.paths)
	for _, a := range acts {
		in.rep.Warn(a.Message)
	}
	if err != nil {
		return fmt.Errorf("recovering an interrupted install first: %w", err)
	}
	return nil
}

// recoverLocked does Recover's work; the caller holds the install lock.
func recoverLocked(paths config.Paths) ([]RecoveryAction, error) {
	var acts []RecoveryAction
	j, err := readJournal(paths.Root)
	if err != nil {
		return nil, err
	}
	if j != nil {
		a, err := recoverJournal(paths, j)
		if err != nil {
			return nil, fmt.Errorf("recovering the interrupted %s of %s (journal %s): %w", j.Op, j.label(), journalPath(paths.Root), err)
		}
		if err := clearJournal(paths.Root); err != nil {
			return []RecoveryAction{a}, err
		}
		acts = append(acts, a)
	}
	legacy, err := recoverLegacy(paths)
	return append(acts, legacy...), err
}

// recoverJournal applies the recovery table documented at the steps.
func recoverJournal(paths config.Paths, j *journal) (RecoveryAction, error) {
	a := RecoveryAction{Module: j.label(), Dir: j.Dir}
	if err := j.check(); err != nil {
		return a, err
	}
	prevName := filepath.Base(j.Prev)
	switch j.Step {
	case stepMovingAside:
		if exists(j.Dir) {
			// The rename did not happen; Prev, if any, is a stale copy
			// the installer was removing.
			a.Kind = RecoveryCleaned
			a.Message = fmt.Sprintf("%s was not changed by the interrupted %s", j.label(), j.Op)
			if exists(j.Prev) {
				if err := os.RemoveAll(j.Prev); err != nil {
					return a, fmt.Errorf("removing %s: %w", j.Prev, err)
				}
				a.Message += "; removed the leftover " + prevName
			}
			return a, nil
		}
		return rollBack(paths, j, a, false)
	case stepMovedAside:
		return rollBack(paths, j, a, false)
	case stepRegistering:
		row, err := rowAt(paths, j.Dir)
		if err != nil {
			return a, err
		}
		if j.OldRow == nil && row != nil {
			// Nothing was registered before: the new package is the
			// only version there is, and its row is written.
			return finish(j, a)
		}
		return rollBack(paths, j, a, true)
	default: // stepCommitting
		return finish(j, a)
	}
}

// rollBack puts Prev back in place of Dir (or removes a fresh Dir), and
// with restoreRow also the old services.json row.
func rollBack(paths config.Paths, j *journal, a RecoveryAction, restoreRow bool) (RecoveryAction, error) {
	a.Kind = RecoveryRolledBack
	if j.Prev == "" {
		if err := os.RemoveAll(j.Dir); err != nil {
			return a, fmt.Errorf("removing the partly installed %s: %w", j.Dir, err)
		}
		a.Message = fmt.Sprintf("removed the partly installed %s (%s) after an interrupted %s — run the %s again", j.label(), j.Dir, j.Op, j.Op)
		return a, nil
	}
	switch {
	case exists(j.Prev):
		if err := os.RemoveAll(j.Dir); err != nil {
			return a, fmt.Errorf("removing the new %s: %w", j.Dir, err)
		}
		if err := os.Rename(j.Prev, j.Dir); err != nil {
			return a, fmt.Errorf("restoring %s from %s: %w", j.Dir, j.Prev, err)
		}
	case !exists(j.Dir):
		return a, fmt.Errorf("neither %s nor its previous copy %s exists — reinstall the module", j.Dir, j.Prev)
	}
	// else: Prev was already renamed back before the interruption.
	if restoreRow && j.OldRow != nil {
		if err := putRow(paths.ServicesJSON(), *j.OldRow); err != nil {
			return a, err
		}
	}
	a.Message = fmt.Sprintf("restored %s from %s after an interrupted %s", j.label(), filepath.Base(j.Prev), j.Op)
	return a, nil
}

// finish removes Prev: the new version had been accepted.
func finish(j *journal, a RecoveryAction) (RecoveryAction, error) {
	a.Kind = RecoveryFinished
	if j.Prev == "" {
		a.Message = fmt.Sprintf("kept %s at %s: its interrupted %s had already registered it", j.label(), j.Dir, j.Op)
		return a, nil
	}
	if err := os.RemoveAll(j.Prev); err != nil {
		return a, fmt.Errorf("removing the previous copy %s: %w", j.Prev, err)
	}
	a.Message = fmt.Sprintf("finished the interrupted %s of %s: removed the previous copy %s", j.Op, j.label(), filepath.Base(j.Prev))
	return a, nil
}

// recoverLegacy repairs what installers without a journal left: a row
// whose install directory is gone while its ".<name>.parachute-prev"
// sibling is there (a replacement killed after moving the package aside).
func recoverLegacy(paths config.Paths) ([]RecoveryAction, error) {
	f, _ := manifest.LoadLenient(paths.ServicesJSON())
	var acts []RecoveryAction
	var errs []error
	for _, row := range f.Services {
		dir := row.InstallDir
		if dir == "" || !filepath.IsAbs(dir) || exists(dir) {
			continue
		}
		prev := backupPath(dir)
		if fi, err := os.Lstat(prev); err != nil || !fi.IsDir() {
			continue
		}
		if err := os.Rename(prev, dir); err != nil {
			errs = append(errs, fmt.Errorf("restoring %s from %s: %w", dir, prev, err))
			continue
		}
		acts = append(acts, RecoveryAction{Module: manifest.ShortName(row.Name), Dir: dir, Kind: RecoveryRolledBack,
			Message: fmt.Sprintf("restored %s from %s, left by an interrupted install or upgrade", manifest.ShortName(row.Name), filepath.Base(prev))})
	}
	return acts, errors.Join(errs...)
}

// rowAt returns the services.json row installed at dir, or nil.
func rowAt(paths config.Paths, dir string) (*manifest.Service, error) {
	f, err := manifest.Load(paths.ServicesJSON())
	if err != nil {
		return nil, err
	}
	for _, s := range f.Services {
		if filepath.Clean(s.InstallDir) == filepath.Clean(dir) {
			return &s, nil
		}
	}
	return nil, nil
}

// putRow writes old back over the row of the same name (or adds it).
func putRow(servicesJSON string, old manifest.Service) error {
	err := manifest.Update(servicesJSON, func(f *manifest.File) error {
		for i := range f.Services {
			if f.Services[i].Name == old.Name {
				f.Services[i] = old
				return nil
			}
		}
		f.Services = append(f.Services, old)
		return nil
	})
	if err != nil {
		return fmt.Errorf("restoring the services.json row of %s: %w", old.Name, err)
	}
	return nil
}

// exists reports whether p exists (a symlink counts, whatever it points to).
func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}
