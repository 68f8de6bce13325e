package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

// TestRecoverLegacyLeftover: an installer without a journal killed after
// moving the package aside left only .<name>.parachute-prev; Recover puts
// it back because the row still points at the missing directory.
func TestRecoverLegacyLeftover(t *testing.T) {
	base := t.TempDir()
	paths := config.Paths{Root: filepath.Join(base, "root")}
	npmRoot := filepath.Join(base, "prefix", "lib", "node_modules")
	dir := filepath.Join(npmRoot, "@acme", "weather")
	writeModule(t, backupPath(dir), fixture{pkg: "@acme/weather", version: "1.0.0", name: "weather"})
	untouched := filepath.Join(npmRoot, "other")
	writeModule(t, untouched, fixture{pkg: "other", version: "1.0.0", name: "other"})
	writeModule(t, backupPath(untouched), fixture{pkg: "other", version: "0.9.0", name: "other"})
	if err := os.MkdirAll(paths.Root, 0o700); err != nil {
		t.Fatal(err)
	}
	err := manifest.Update(paths.ServicesJSON(), func(f *manifest.File) error {
		f.Services = append(f.Services,
			manifest.Service{Name: "weather", Port: 4100, Paths: []string{"/weather"}, Health: "/weather/health", Version: "1.0.0", InstallDir: dir},
			manifest.Service{Name: "other", Port: 4101, Paths: []string{"/other"}, Health: "/other/health", Version: "1.0.0", InstallDir: untouched})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	acts, err := Recover(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []RecoveryAction{{Module: "weather", Dir: dir, Kind: RecoveryRolledBack,
		Message: "restored weather from .weather.parachute-prev, left by an interrupted install or upgrade"}}
	if d := cmp.Diff(want, acts); d != "" {
		t.Fatalf("actions (-want +got):\n%s", d)
	}
	if _, err := manifest.LoadModule(dir); err != nil || exists(backupPath(dir)) {
		t.Fatalf("after recovery: module.json %v, backup left %v", err, exists(backupPath(dir)))
	}
	// A package that is in place keeps its stray backup: which copy is
	// wanted cannot be known without a journal.
	if !exists(backupPath(untouched)) {
		t.Fatalf("a backup next to an installed package was removed")
	}
}

// TestRecoverRefusesBadJournals: a damaged or planted journal makes
// Recover (and the next install) stop with an error and touch nothing.
func TestRecoverRefusesBadJournals(t *testing.T) {
	tests := []struct {
		name    string
		journal func(npmRoot, victim string) string
		wantErr string
	}{
		{name: "dir outside the root", wantErr: "not inside", journal: func(npmRoot, victim string) string {
			return `{"version":1,"op":"install","package":"x","root":"` + npmRoot + `","dir":"` + victim + `","prev":"` + backupPath(victim) + `","step":"moved-aside"}`
		}},
		{name: "dir through traversal", wantErr: "not inside", journal: func(npmRoot, victim string) string {
			return `{"version":1,"op":"install","package":"x","root":"` + npmRoot + `","dir":"` + npmRoot + `/../../../srv/victim","step":"moved-aside"}`
		}},
		{name: "prev not the backup of dir", wantErr: "expected", journal: func(npmRoot, victim string) string {
			return `{"version":1,"op":"install","package":"x","root":"` + npmRoot + `","dir":"` + npmRoot + `/x","prev":"` + victim + `","step":"moved-aside"}`
		}},
		{name: "unknown step", wantErr: "unknown step", journal: func(npmRoot, _ string) string {
			return `{"version":1,"op":"install","package":"x","root":"` + npmRoot + `","dir":"` + npmRoot + `/x","step":"explode"}`
		}},
		{name: "newer format", wantErr: "version 2", journal: func(string, string) string { return `{"version":2}` }},
		{name: "not json", wantErr: "delete it", journal: func(string, string) string { return `{"version":` }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			in, paths := installerAt(filepath.Join(base, "root"), filepath.Join(base, "prefix"), nil, nil, nil)
			npmRoot := filepath.Join(base, "prefix", "lib", "node_modules")
			victim := filepath.Join(base, "srv", "victim")
			writeModule(t, victim, fixture{pkg: "victim", version: "1.0.0", name: "victim"})
			writeModule(t, backupPath(victim), fixture{pkg: "victim", version: "0.1.0", name: "victim"})
			if err := os.MkdirAll(paths.Root, 0o700); err != nil {
				t.Fatal(err)
			}
			body := tc.journal(npmRoot, victim)
			if err := os.WriteFile(journalPath(paths.Root), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, filepath.Join(base, "srv"))

			_, err := Recover(paths, nil)
			wantErrContains(t, err, tc.wantErr)
			src := writeModule(t, filepath.Join(base, "mod"), fixture{pkg: "mod", version: "1.0.0", name: "mod"})
			_, err = in.Install(context.Background(), Request{Source: src, NoStart: true})
			wantErrContains(t, err, "recovering an interrupted install first", tc.wantErr)

			if d := cmp.Diff(before, snapshot(t, filepath.Join(base, "srv"))); d != "" {
				t.Fatalf("files outside the root changed (-before +after):\n%s", d)
			}
			if b, err := os.ReadFile(journalPath(paths.Root)); err != nil || string(b) != body {
				t.Fatalf("the journal was not kept for the operator: %q, %v", b, err)
			}
		})
	}
}

// TestRecoverLeavesALiveInstallAlone: while another installer holds the
// lock, its journal describes work in progress, so Recover does nothing.
func TestRecoverLeavesALiveInstallAlone(t *testing.T) {
	base := t.TempDir()
	paths := config.Paths{Root: filepath.Join(base, "root")}
	npmRoot := filepath.Join(base, "prefix", "lib", "node_modules")
	dir := filepath.Join(npmRoot, "weather")
	writeModule(t, backupPath(dir), fixture{pkg: "weather", version: "1.0.0", name: "weather"})
	unlock, err := lockRoot(context.Background(), paths.Root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := writeJournal(paths.Root, &journal{Op: "upgrade", Package: "weather", Root: npmRoot, Dir: dir, Prev: backupPath(dir), Step: stepMovedAside}); err != nil {
		t.Fatal(err)
	}
	acts, err := Recover(paths, nil)
	if err != nil || len(acts) != 0 {
		t.Fatalf("Recover under a held lock = %+v, %v; want nothing done", acts, err)
	}
	if exists(dir) || !exists(backupPath(dir)) || !exists(journalPath(paths.Root)) {
		t.Fatalf("Recover changed the files of a live install")
	}
	unlock()
	acts, err = Recover(paths, nil)
	if err != nil || len(acts) != 1 || !strings.Contains(acts[0].Message, "restored weather from .weather.parachute-prev after an interrupted upgrade") {
		t.Fatalf("Recover once the lock is free = %+v, %v", acts, err)
	}
	if !errors.Is(func() error { _, err := os.Stat(journalPath(paths.Root)); return err }(), os.ErrNotExist) {
		t.Fatalf("journal left after recovery")
	}
}
