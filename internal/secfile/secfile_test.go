package secfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openparachute/parachute/internal/testenv"
)

// fixture is a directory with one of each kind of file OpenFile must tell
// apart.
func fixture(t *testing.T) (dir, target string) {
	t.Helper()
	dir = t.TempDir()
	target = filepath.Join(dir, "target")
	must(t, os.WriteFile(target, []byte("secret\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "regular"), []byte("ok\n"), 0o600))
	must(t, os.Symlink(target, filepath.Join(dir, "link")))
	must(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling")))
	must(t, os.Mkdir(filepath.Join(dir, "dir"), 0o700))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	return dir, target
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadFile(t *testing.T) {
	dir, _ := fixture(t)
	cases := []struct {
		name     string
		want     string
		wantKind string // "" = success
		notExist bool
	}{
		{name: "regular", want: "ok\n"},
		{name: "link", wantKind: "symlink"},
		{name: "dangling", wantKind: "symlink"},
		{name: "dir", wantKind: "directory"},
		{name: "fifo", wantKind: "named pipe"}, // and the open does not block
		{name: "missing", notExist: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			got, err := ReadFile(path)
			switch {
			case c.notExist:
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("ReadFile = %v, want ErrNotExist", err)
				}
			case c.wantKind != "":
				var nr *NotRegularError
				if !errors.As(err, &nr) || nr.Kind != c.wantKind || !errors.Is(err, ErrNotRegular) {
					t.Fatalf("ReadFile = %q, %v; want a %s refusal", got, err, c.wantKind)
				}
				if !strings.Contains(err.Error(), "rm "+path) {
					t.Fatalf("error %q does not tell the operator what to run", err)
				}
			default:
				if err != nil || string(got) != c.want {
					t.Fatalf("ReadFile = %q, %v; want %q", got, err, c.want)
				}
			}
		})
	}
}

// A symlink is refused for writing too, and the target is not created or
// truncated.
func TestOpenFileWriteThroughLinkRefused(t *testing.T) {
	dir, target := fixture(t)
	f, err := OpenFile(filepath.Join(dir, "link"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		f.Close()
		t.Fatal("OpenFile followed a symlink for writing")
	}
	if b, _ := os.ReadFile(target); string(b) != "secret\n" {
		t.Fatalf("target changed to %q", b)
	}
	f, err = OpenFile(filepath.Join(dir, "dangling"), os.O_WRONLY|os.O_CREATE, 0o600)
	if err == nil {
		f.Close()
		t.Fatal("OpenFile created the target of a dangling symlink")
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("dangling symlink's target was created: %v", err)
	}
}

func TestCheck(t *testing.T) {
	dir, _ := fixture(t)
	for name, wantErr := range map[string]bool{
		"regular": false, "missing": false, "link": true, "dangling": true, "dir": true, "fifo": true,
	} {
		if err := Check(filepath.Join(dir, name)); (err != nil) != wantErr || (wantErr && !errors.Is(err, ErrNotRegular)) {
			t.Errorf("Check(%s) = %v, want error %v", name, err, wantErr)
		}
	}
}

func TestRestrictAndCap(t *testing.T) {
	dir, _ := fixture(t)
	path := filepath.Join(dir, "regular")
	must(t, os.Chmod(path, 0o644))
	f, err := Open(path)
	must(t, err)
	defer f.Close()

	if got, err := Cap(f, 0o640); err != nil || got != 0o640 {
		t.Fatalf("Cap(0640) = %v, %v; want 0640", got, err)
	}
	if got, err := Cap(f, 0o600); err != nil || got != 0o600 {
		t.Fatalf("Cap(0600) = %v, %v; want 0600", got, err)
	}
	must(t, Restrict(f, 0o640, os.Getgid()))
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
	}

	// A second name for the inode: refused, mode unchanged.
	must(t, os.Link(path, filepath.Join(dir, "hardlink")))
	if err := Restrict(f, 0o600, -1); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "hard link") {
		t.Fatalf("Restrict on a hard-linked file = %v, want a hard link refusal", err)
	}
	if _, err := Cap(f, 0o600); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "hard link") {
		t.Fatalf("Cap on a hard-linked file = %v, want a hard link refusal", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode changed to %v despite the refusal", fi.Mode().Perm())
	}
	// Within the ceiling there is nothing to change, so nothing to refuse.
	if got, err := Cap(f, 0o640); err != nil || got != 0o640 {
		t.Fatalf("Cap(0640) on a 0640 hard-linked file = %v, %v; want 0640, nil", got, err)
	}
}

// Restrict refuses a file another user owns (root can create one).
func TestRestrictRefusesOtherOwner(t *testing.T) {
	testenv.NeedRoot(t, "only root can create a file owned by another user")
	dir, _ := fixture(t)
	path := filepath.Join(dir, "regular")
	must(t, os.Chown(path, 4242, 4242))
	f, err := Open(path)
	must(t, err)
	defer f.Close()
	if err := Restrict(f, 0o640, 0); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "uid 4242") {
		t.Fatalf("Restrict = %v, want an owner refusal", err)
	}
	fi, _ := os.Stat(path)
	if st := fi.Sys().(*syscall.Stat_t); st.Gid != 4242 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file changed: gid %d mode %v", st.Gid, fi.Mode().Perm())
	}
	// Taking access away from another user's file is allowed.
	must(t, os.Chmod(path, 0o644))
	if got, err := Cap(f, 0o600); err != nil || got != 0o600 {
		t.Fatalf("Cap on another user's 0644 file = %v, %v; want 0600", got, err)
	}
}
