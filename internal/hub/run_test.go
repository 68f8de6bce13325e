package hub

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/testenv"
)

func TestShareTokenWithGroup(t *testing.T) {
	cases := []struct {
		rootMode os.FileMode
		want     os.FileMode
	}{
		{0o700, 0o600},
		{0o750, 0o640},
		{0o770, 0o640},
		{0o755, 0o600}, // readable by everyone: not a deliberate group share
	}
	for _, c := range cases {
		t.Run(c.rootMode.String(), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			if err := os.Mkdir(root, c.rootMode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(root, c.rootMode) // past the umask
			p := config.Paths{Root: root}
			if err := os.WriteFile(p.OperatorToken(), []byte("tok\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := shareTokenWithGroup(p); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p.OperatorToken())
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != c.want {
				t.Fatalf("root %v: token mode %v, want %v", c.rootMode, got, c.want)
			}
		})
	}
}

// A group member who can write the 0770 root replaces operator.token with
// a link to a file only root may read. The root-run hub must not give that
// file to the group: its mode and owner stay, and the error says why.
func TestShareTokenWithGroupRefusesSymlink(t *testing.T) {
	testenv.NeedRoot(t, "the attack needs a root hub giving a file to another group")
	const gid = 4242
	target := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(target, []byte("root:$6$secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o770); err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o770)
	if err := os.Chown(root, -1, gid); err != nil {
		t.Fatal(err)
	}
	p := config.Paths{Root: root}
	if err := os.Symlink(target, p.OperatorToken()); err != nil {
		t.Fatal(err)
	}
	err := shareTokenWithGroup(p)
	fi, serr := os.Stat(target)
	if serr != nil {
		t.Fatal(serr)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o600 || st.Gid == gid {
		t.Fatalf("link target is now mode %v gid %d: the hub followed the link", fi.Mode().Perm(), st.Gid)
	}
	if err == nil || !strings.Contains(err.Error(), "symlink") || !strings.Contains(err.Error(), p.OperatorToken()) {
		t.Fatalf("shareTokenWithGroup = %v; want an error naming the symlinked token", err)
	}
}

// A link planted at the port file's predictable temp name is not written
// through: its target keeps its content, and the port file is written.
func TestWriteRunFilesIgnoresPlantedLink(t *testing.T) {
	p := config.Paths{Root: t.TempDir()}
	if err := os.MkdirAll(p.HubRunDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p.HubPortFile()+".tmp-"+strconv.Itoa(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	if err := writeRunFiles(p, 4321); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Fatalf("link target now holds %q", b)
	}
	if b, _ := os.ReadFile(p.HubPortFile()); string(b) != "4321\n" {
		t.Fatalf("port file holds %q, want 4321", b)
	}
	if fi, err := os.Lstat(p.HubPortFile()); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("port file is not a regular file: %v %v", fi, err)
	}
}
