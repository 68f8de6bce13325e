package config

import (
	"os"
	"os/user"
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	t.Run("PARACHUTE_HOME wins", func(t *testing.T) {
		t.Setenv("PARACHUTE_HOME", "/x/y")
		if got, _ := Root(); got != "/x/y" {
			t.Fatalf("Root = %q, want /x/y", got)
		}
	})
	t.Run("empty PARACHUTE_HOME means the default", func(t *testing.T) {
		t.Setenv("PARACHUTE_HOME", "")
		got, err := Root()
		if err != nil || filepath.Base(got) != ".parachute" {
			t.Fatalf("Root = %q, %v; want <home>/.parachute", got, err)
		}
	})
	t.Run("relative PARACHUTE_HOME is made absolute", func(t *testing.T) {
		t.Setenv("PARACHUTE_HOME", "rel")
		got, _ := Root()
		if !filepath.IsAbs(got) {
			t.Fatalf("Root = %q, want absolute", got)
		}
	})
}

func TestEnsureRootIsPrivate(t *testing.T) {
	p := Paths{Root: filepath.Join(t.TempDir(), "root")}
	if err := p.EnsureRoot(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p.Root)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("root mode = %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	// An existing root keeps the mode its owner chose.
	os.Chmod(p.Root, 0o750)
	if err := p.EnsureRoot(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p.Root); fi.Mode().Perm() != 0o750 {
		t.Fatalf("EnsureRoot changed an existing root's mode to %v", fi.Mode().Perm())
	}
	if got, want := p.ModuleLog("vault"), filepath.Join(p.Root, "vault", "logs", "vault.log"); got != want {
		t.Fatalf("ModuleLog = %q, want %q", got, want)
	}
}

// $HOME wins over the user database, as in Node and os.UserHomeDir; the
// database is the fallback when $HOME is empty.
func TestRootHonoursHOME(t *testing.T) {
	t.Setenv("PARACHUTE_HOME", "")
	home := t.TempDir() // never the user database's home
	if err := os.Mkdir(filepath.Join(home, ".parachute"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	if got, err := Root(); err != nil || got != filepath.Join(home, ".parachute") {
		t.Fatalf("Root with HOME=%s = %q, %v; want %s/.parachute", home, got, err, home)
	}

	t.Setenv("HOME", "")
	u, err := user.Current()
	if err != nil || u.HomeDir == "" {
		t.Skipf("no user database entry to fall back on: %v", err)
	}
	if got, err := personalRoot(); err != nil || got != filepath.Join(u.HomeDir, ".parachute") {
		t.Fatalf("personalRoot with HOME unset = %q, %v; want %s/.parachute", got, err, u.HomeDir)
	}
}
