package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/secfile"
)

// plantLink makes name in a fresh directory a symlink to a real file with
// valid contents, and returns the link's path and the target's.
func plantLink(t *testing.T, name, contents string) (link, target string) {
	t.Helper()
	target = filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	link = filepath.Join(t.TempDir(), name)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link, target
}

// refused fails t unless err refuses path as a symlink and says what to do.
func refused(t *testing.T, err error, path string) {
	t.Helper()
	if err == nil || !errors.Is(err, secfile.ErrNotRegular) || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), "symlink") {
		t.Fatalf("err = %v; want a symlink refusal naming %s", err, path)
	}
}

func TestSymlinkedFilesRefused(t *testing.T) {
	services := `{"services":[` + row("parachute-vault", 1940) + `]}`
	t.Run("services.json Load", func(t *testing.T) {
		link, _ := plantLink(t, "services.json", services)
		f, err := Load(link)
		if f != nil {
			t.Fatalf("Load read %v through a link", names(f))
		}
		refused(t, err, link)
	})
	t.Run("services.json LoadLenient", func(t *testing.T) {
		link, _ := plantLink(t, "services.json", services)
		f, warns := LoadLenient(link)
		if len(f.Services) != 0 || len(warns) != 1 || !strings.Contains(warns[0], "symlink") {
			t.Fatalf("LoadLenient = %v, %q; want no rows and a symlink warning", names(f), warns)
		}
	})
	t.Run("services.json Update", func(t *testing.T) {
		link, target := plantLink(t, "services.json", services)
		err := Update(link, func(f *File) error { f.Services = nil; return nil })
		refused(t, err, link)
		if b, _ := os.ReadFile(target); string(b) != services {
			t.Fatalf("link target rewritten to %q", b)
		}
	})
	t.Run("services.json.lock", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "services.json")
		target := filepath.Join(t.TempDir(), "nologin") // dangling: must not be created
		if err := os.Symlink(target, path+".lock"); err != nil {
			t.Fatal(err)
		}
		err := Update(path, func(f *File) error { return nil })
		refused(t, err, path+".lock")
		if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the lock link's target was created: %v", err)
		}
	})
	t.Run(".env", func(t *testing.T) {
		link, _ := plantLink(t, ".env", "SECRET=1\n")
		vars, err := LoadEnv(link)
		if vars != nil {
			t.Fatalf("LoadEnv read %v through a link", vars)
		}
		refused(t, err, link)
	})
}
