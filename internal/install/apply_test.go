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

// TestFollowInstalled checks how apply completes a source from the
// installed row before anything is placed: channel stickiness for a
// source that named no channel, and the registry's version when the
// source pinned none.
func TestFollowInstalled(t *testing.T) {
	vault, _ := manifest.KnownByShort("vault")
	tests := []struct {
		name      string
		src       Source
		installed string
		want      Source
		wantCalls []string
	}{{
		name:      "no channel named: an rc install stays on rc",
		src:       Source{Kind: SourceKnown, Known: &vault, Package: vault.Package, Spec: vault.Package + "@latest", ChannelDefaulted: true},
		installed: "1.0.0-rc.2",
		want:      Source{Kind: SourceKnown, Known: &vault, Package: vault.Package, Spec: vault.Package + "@rc", ChannelDefaulted: true, Version: "1.0.0-rc.5"},
		wantCalls: []string{"view " + vault.Package + "@rc version"},
	}, {
		name:      "a named channel wins over the installed one",
		src:       Source{Kind: SourceRegistry, Package: "echo-mod", Spec: "echo-mod@latest"},
		installed: "1.0.0-rc.2",
		want:      Source{Kind: SourceRegistry, Package: "echo-mod", Spec: "echo-mod@latest", Version: "1.1.0"},
		wantCalls: []string{"view echo-mod@latest version"},
	}, {
		name:      "a pinned version asks the registry nothing",
		src:       Source{Kind: SourceRegistry, Package: "echo-mod", Spec: "echo-mod@1.0.3", Version: "1.0.3"},
		installed: "1.0.0",
		want:      Source{Kind: SourceRegistry, Package: "echo-mod", Spec: "echo-mod@1.0.3", Version: "1.0.3"},
	}, {
		name:      "a directory is not a registry source",
		src:       Source{Kind: SourceDir, Path: "/src/echo", ChannelDefaulted: true},
		installed: "1.0.0-rc.1",
		want:      Source{Kind: SourceDir, Path: "/src/echo", ChannelDefaulted: true},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			// lookPath needs an executable npm on PATH; fakeNPM answers
			// instead of it, so it never runs.
			if err := os.WriteFile(filepath.Join(bin, "npm"), []byte("#!/bin/sh\nexit 99\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			npm := &fakeNPM{root: t.TempDir(), tags: map[string]string{"rc": "1.0.0-rc.5", "latest": "1.1.0"}}
			in := New(Options{Paths: config.Paths{Root: t.TempDir()}, Runner: npm.run,
				Environ: func() []string { return []string{"PATH=" + bin} }})
			got := in.followInstalled(context.Background(), tc.src, manifest.Service{Name: "x", Version: tc.installed})
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("source (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantCalls, npm.Calls()); d != "" {
				t.Errorf("npm calls (-want +got):\n%s", d)
			}
		})
	}
}

// TestTarget checks which module and row apply settles on before
// placing anything.
func TestTarget(t *testing.T) {
	vault, _ := manifest.KnownByShort("vault")
	root := t.TempDir()
	paths := config.Paths{Root: root}
	for _, row := range []manifest.Service{
		{Name: "parachute-vault", Port: 1940, Paths: []string{"/vault/default"}, Health: "/vault/default/health", Version: "1.0.0"},
		{Name: "echo", Port: 4000, Paths: []string{"/echo"}, Health: "/echo/health", Version: "0.1.0"},
	} {
		if err := manifest.Upsert(paths.ServicesJSON(), row); err != nil {
			t.Fatal(err)
		}
	}
	in := New(Options{Paths: paths})
	tests := []struct {
		name      string
		src       Source
		expect    string
		wantShort string
		wantRow   string // "" for none
		wantErr   string
	}{
		{name: "first-party by short name", src: Source{Arg: "vault", Known: &vault}, wantShort: "vault", wantRow: "parachute-vault"},
		{name: "a directory's module.json", src: Source{Arg: "/src/echo", Module: &manifest.Module{Name: "echo"}}, wantShort: "echo", wantRow: "echo"},
		{name: "not installed yet", src: Source{Arg: "/src/new", Module: &manifest.Module{Name: "new"}}, wantShort: "new"},
		{name: "unknown until placed", src: Source{Arg: "some-pkg"}},
		{name: "an upgrade names its module", src: Source{Arg: "some-pkg"}, expect: "echo", wantShort: "echo", wantRow: "echo"},
		{name: "another module than the upgrade's", src: Source{Arg: "/src/echo", Module: &manifest.Module{Name: "echo"}}, expect: "vault",
			wantErr: `/src/echo is the module "echo", not "vault"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			short, old, err := in.target(tc.src, tc.expect)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			row := ""
			if old != nil {
				row = old.Name
			}
			if short != tc.wantShort || row != tc.wantRow {
				t.Errorf("target = %q, row %q; want %q, row %q", short, row, tc.wantShort, tc.wantRow)
			}
		})
	}

	t.Run("malformed services.json", func(t *testing.T) {
		if err := os.WriteFile(paths.ServicesJSON(), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := in.target(Source{Arg: "vault", Known: &vault}, ""); err == nil || errors.Is(err, ErrNotInstalled) {
			t.Fatalf("err = %v, want a read error", err)
		}
	})
}
