package auth

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// helperEnv selects a helper mode when the test binary re-executes itself.
const helperEnv = "PARACHUTE_AUTH_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "ensure-key" {
		os.Exit(ensureKeyHelper(os.Getenv("PARACHUTE_AUTH_TEST_DB")))
	}
	code := m.Run()
	if templateDir != "" {
		os.RemoveAll(templateDir)
	}
	os.Exit(code)
}

// ensureKeyHelper is the child side of TestEnsureSigningKeyProcessRace: it
// opens the store, says "ready", waits for stdin to close (the start
// barrier), calls EnsureSigningKey and prints the kid.
func ensureKeyHelper(db string) int {
	s, err := Open(db)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	fmt.Println("ready")
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	k, err := s.EnsureSigningKey(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Println(k.KID)
	return 0
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// templateDB returns a hub.db that already holds one signing key, made
// once per test binary: RSA generation is slow under -race, and most tests
// only need some key.
func templateDB(t *testing.T) string {
	t.Helper()
	templateOnce.Do(func() {
		templateDir, templateErr = os.MkdirTemp("", "auth-template-")
		if templateErr != nil {
			return
		}
		s, err := Open(filepath.Join(templateDir, "hub.db"))
		if err != nil {
			templateErr = err
			return
		}
		if _, err := s.EnsureSigningKey(context.Background()); err != nil {
			templateErr = err
		}
		if err := s.Close(); err != nil && templateErr == nil {
			templateErr = err
		}
	})
	if templateErr != nil {
		t.Fatalf("making template hub.db: %v", templateErr)
	}
	return filepath.Join(templateDir, "hub.db")
}

// newStore opens a private copy of the template database in t.TempDir().
func newStore(t *testing.T) *Store {
	t.Helper()
	src := templateDB(t)
	dst := filepath.Join(t.TempDir(), "hub.db")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dst)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fixedClock pins the store's clock and returns the pinned time.
func fixedClock(s *Store, at time.Time) time.Time {
	at = at.Truncate(time.Second)
	s.now = func() time.Time { return at }
	return at
}

// signRaw signs arbitrary header and payload JSON with the store's active
// key, for tokens Mint refuses to make.
func signRaw(t *testing.T, s *Store, headerJSON, payloadJSON string) string {
	t.Helper()
	_, priv, err := s.signer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return signWith(t, priv, headerJSON, payloadJSON)
}

func signWith(t *testing.T, priv *rsa.PrivateKey, headerJSON, payloadJSON string) string {
	t.Helper()
	in := enc(headerJSON) + "." + enc(payloadJSON)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// fileMode returns path's permission bits.
func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
