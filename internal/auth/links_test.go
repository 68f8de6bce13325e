package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openparachute/parachute/internal/secfile"
	"github.com/openparachute/parachute/internal/testenv"
)

// victim is a file outside the config root that a planted link points at;
// it stands for /etc/shadow.
func victim(t *testing.T) (path string, before os.FileInfo) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(path, []byte("root:$6$secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, fi
}

// unchanged fails t when the victim's content, mode or owner changed.
func unchanged(t *testing.T, path string, before os.FileInfo) {
	t.Helper()
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b0, a0 := before.Sys().(*syscall.Stat_t), after.Sys().(*syscall.Stat_t)
	if after.Mode() != before.Mode() || a0.Uid != b0.Uid || a0.Gid != b0.Gid || after.Size() != before.Size() {
		t.Fatalf("link target changed: mode %v→%v uid %d→%d gid %d→%d size %d→%d",
			before.Mode(), after.Mode(), b0.Uid, a0.Uid, b0.Gid, a0.Gid, before.Size(), after.Size())
	}
	if b, _ := os.ReadFile(path); string(b) != "root:$6$secret\n" {
		t.Fatalf("link target content changed to %q", b)
	}
}

// groupRoot is a config root shared with a group other than the test's
// own, as the system package makes /var/lib/parachute (0770 here: the
// group can plant files in it).
func groupRoot(t *testing.T, gid int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(root, -1, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o770); err != nil { // past the umask
		t.Fatal(err)
	}
	return root
}

func TestShareTokenWithGroupRefusesLinks(t *testing.T) {
	// chown to a foreign group needs root; as the test's own group the
	// chown would "succeed" on the target without showing anything.
	testenv.NeedRoot(t, "giving a file to another group needs root, as the root-run hub does")
	const gid = 4242
	target, before := victim(t)
	root := groupRoot(t, gid)
	tok := filepath.Join(root, "operator.token")

	t.Run("symlink", func(t *testing.T) {
		if err := os.Symlink(target, tok); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(tok)
		shared, err := ShareTokenWithGroup(tok, root)
		if shared || !errors.Is(err, secfile.ErrNotRegular) || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("ShareTokenWithGroup = %v, %v; want a symlink refusal", shared, err)
		}
		unchanged(t, target, before)
	})
	t.Run("hard link", func(t *testing.T) {
		if err := os.Link(target, tok); err != nil {
			t.Skipf("cannot hard-link across these directories: %v", err)
		}
		defer os.Remove(tok)
		shared, err := ShareTokenWithGroup(tok, root)
		if shared || !errors.Is(err, secfile.ErrNotRegular) || !strings.Contains(err.Error(), "hard link") {
			t.Fatalf("ShareTokenWithGroup = %v, %v; want a hard link refusal", shared, err)
		}
		unchanged(t, target, before)
	})
	t.Run("regular token is shared", func(t *testing.T) {
		if err := WriteTokenFile(tok, "a.b.c"); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(tok)
		if shared, err := ShareTokenWithGroup(tok, root); !shared || err != nil {
			t.Fatalf("ShareTokenWithGroup = %v, %v; want shared", shared, err)
		}
		fi, _ := os.Stat(tok)
		if g, _ := fileGID(fi); fi.Mode().Perm() != 0o640 || g != gid {
			t.Fatalf("token mode %v gid %d, want 0640 gid %d", fi.Mode().Perm(), g, gid)
		}
	})
}

func TestShareTokenWithGroupOnlyInGroupRoots(t *testing.T) {
	for _, mode := range []os.FileMode{0o700, 0o755, 0o750, 0o770} {
		t.Run(mode.String(), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			if err := os.Mkdir(root, mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(root, mode)
			tok := filepath.Join(root, "operator.token")
			if err := WriteTokenFile(tok, "a.b.c"); err != nil {
				t.Fatal(err)
			}
			want := mode == 0o750 || mode == 0o770
			shared, err := ShareTokenWithGroup(tok, root)
			if err != nil || shared != want {
				t.Fatalf("ShareTokenWithGroup = %v, %v; want %v", shared, err, want)
			}
			if m := fileMode(t, tok); (m == 0o640) != want || (!want && m != 0o600) {
				t.Fatalf("token mode %04o", m)
			}
		})
	}
}

func TestReadTokenFileRefusesSymlink(t *testing.T) {
	target, before := victim(t)
	tok := filepath.Join(t.TempDir(), "operator.token")
	if err := os.Symlink(target, tok); err != nil {
		t.Fatal(err)
	}
	got, _, err := ReadTokenFile(tok)
	if got != "" || !errors.Is(err, secfile.ErrNotRegular) || !strings.Contains(err.Error(), "rm "+tok) {
		t.Fatalf("ReadTokenFile = %q, %v; want a symlink refusal naming `rm %s`", got, err, tok)
	}
	unchanged(t, target, before)
}

func TestOpenRefusesLinkedDatabase(t *testing.T) {
	for _, name := range []string{"hub.db", "hub.db-wal", "hub.db-shm"} {
		t.Run(name, func(t *testing.T) {
			target, before := victim(t)
			os.Chmod(target, 0o644)
			before, _ = os.Stat(target)
			dir := t.TempDir()
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			s, err := Open(filepath.Join(dir, "hub.db"))
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded with %s a symlink", name)
			}
			if !errors.Is(err, secfile.ErrNotRegular) || !strings.Contains(err.Error(), filepath.Join(dir, name)) {
				t.Fatalf("Open = %v; want a refusal naming %s", err, name)
			}
			unchanged(t, target, before)
		})
	}
}

// In a root shared with its group, a 0640 hub.db stays 0640; anything
// looser is cut down to it. Elsewhere the ceiling is 0600.
func TestOpenModeCeiling(t *testing.T) {
	cases := []struct {
		dirMode, dbMode, want os.FileMode
	}{
		{0o700, 0o644, 0o600},
		{0o700, 0o640, 0o600},
		{0o750, 0o640, 0o640},
		{0o750, 0o666, 0o640},
		{0o750, 0o600, 0o600}, // never widened
	}
	for _, c := range cases {
		t.Run(c.dirMode.String()+"/"+c.dbMode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "root")
			if err := os.Mkdir(dir, c.dirMode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, c.dirMode)
			path := filepath.Join(dir, "hub.db")
			if err := os.WriteFile(path, nil, c.dbMode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, c.dbMode)
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.EnsureSigningKey(context.Background()); err != nil {
				t.Fatal(err)
			}
			if m := fileMode(t, path); m != c.want {
				t.Fatalf("hub.db mode %04o, want %04o", m, c.want)
			}
		})
	}
}
