package hubclient

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/secfile"
)

func TestTokenRefusesSymlink(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:$6$secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "operator.token")
	if err := os.Symlink(secret, path); err != nil {
		t.Fatal(err)
	}
	c := &Client{TokenPath: path}
	tok, err := c.Token()
	if tok != "" || err == nil || !errors.Is(err, secfile.ErrNotRegular) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Token = %q, %v; want a refusal naming %s", tok, err, path)
	}

	// A regular file still works.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(" a.b.c \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := (&Client{TokenPath: path}).Token(); tok != "a.b.c" || err != nil {
		t.Fatalf("Token = %q, %v; want a.b.c", tok, err)
	}
}

// TestNoTokenIsTheConfigSentinel: a missing or empty token file is
// config.ErrNoOperatorToken, the one sentinel the CLI branches on whether
// the error came from this client or from auth.ReadTokenFile.
func TestNoTokenIsTheConfigSentinel(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.token")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.token"), empty} {
		c := &Client{TokenPath: path}
		if _, err := c.Token(); !errors.Is(err, config.ErrNoOperatorToken) {
			t.Errorf("Token(%s) = %v, want config.ErrNoOperatorToken", filepath.Base(path), err)
		}
	}
}
