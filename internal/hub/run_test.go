package hub

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/openparachute/parachute/internal/config"
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
			shareTokenWithGroup(p, slog.New(slog.DiscardHandler))
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
