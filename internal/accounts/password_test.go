package accounts

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nodeRsHash is one entry of testdata/node-rs-argon2-hashes.json, made by
// the real @node-rs/argon2 with its defaults (see testdata/README.md).
type nodeRsHash struct {
	Password string `json:"password"`
	Hash     string `json:"hash"`
}

func nodeRsHashes(t testing.TB) []nodeRsHash {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "node-rs-argon2-hashes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hs []nodeRsHash
	if err := json.Unmarshal(b, &hs); err != nil {
		t.Fatal(err)
	}
	if len(hs) == 0 {
		t.Fatal("no fixture hashes")
	}
	return hs
}

func TestVerifyNodeRsHashes(t *testing.T) {
	for _, h := range nodeRsHashes(t) {
		name := h.Password
		if len(name) > 20 {
			name = name[:20] + "..."
		}
		t.Run(name, func(t *testing.T) {
			ok, err := VerifyPassword(h.Hash, h.Password)
			if err != nil || !ok {
				t.Errorf("VerifyPassword(node-rs hash, right password) = %v, %v; want true", ok, err)
			}
			wrong := h.Password + "x"
			if len(h.Password) == MaxPasswordBytes {
				wrong = "y" + h.Password[1:]
			}
			ok, err = VerifyPassword(h.Hash, wrong)
			if err != nil || ok {
				t.Errorf("VerifyPassword(node-rs hash, wrong password) = %v, %v; want false", ok, err)
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	const pw = "correct horse battery staple"
	h1, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	// @node-rs/argon2's defaults, so the reference treats ours as its own.
	const prefix = "$argon2id$v=19$m=19456,t=2,p=1$"
	if !strings.HasPrefix(h1, prefix) {
		t.Errorf("hash %q lacks prefix %q", h1, prefix)
	}
	if parts := strings.Split(h1, "$"); len(parts) != 6 || len(parts[4]) != 22 || len(parts[5]) != 43 {
		t.Errorf("hash %q: want a 16-byte salt and 32-byte hash in unpadded base64", h1)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
	for _, h := range []string{h1, h2} {
		if ok, err := VerifyPassword(h, pw); err != nil || !ok {
			t.Errorf("VerifyPassword(own hash) = %v, %v", ok, err)
		}
	}
	if ok, _ := VerifyPassword(h1, "correct horse battery stapler"); ok {
		t.Error("wrong password verified")
	}
}

func TestPasswordTooLong(t *testing.T) {
	long := strings.Repeat("x", MaxPasswordBytes+1)
	if _, err := HashPassword(long); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("HashPassword(%d bytes) error = %v, want ErrPasswordTooLong", len(long), err)
	}
	h := nodeRsHashes(t)[0].Hash
	if _, err := VerifyPassword(h, long); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("VerifyPassword(%d bytes) error = %v, want ErrPasswordTooLong", len(long), err)
	}
	// Exactly the cap is a password (the fixture has a 1024-byte one).
	if _, err := HashPassword(long[1:]); err != nil {
		t.Errorf("HashPassword(%d bytes): %v", MaxPasswordBytes, err)
	}
}

func TestParsePHC(t *testing.T) {
	const salt, key = "rcYPGO0BaAEvgkwVvV9t1A", "FeWlMinMim4S/y67jNADmtg/TPUCxi9VeY4MdLzbd78"
	good := "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"node-rs default", good, true},
		{"parameters reordered", "$argon2id$v=19$p=1,t=2,m=19456$" + salt + "$" + key, true},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"argon2d", "$argon2d$v=19$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"version 16", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"no version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"bcrypt", "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", false},
		{"empty", "", false},
		{"missing p", "$argon2id$v=19$m=19456,t=2$" + salt + "$" + key, false},
		{"repeated m", "$argon2id$v=19$m=19456,m=8,t=2,p=1$" + salt + "$" + key, false},
		{"keyid", "$argon2id$v=19$m=19456,t=2,p=1,keyid=abc$" + salt + "$" + key, false},
		{"leading zero", "$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key, false},
		{"sign", "$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key, false},
		{"memory 4 GiB", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key, false},
		{"memory below 8 KiB a lane", "$argon2id$v=19$m=15,t=2,p=2$" + salt + "$" + key, false},
		{"time 0", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key, false},
		{"time huge", "$argon2id$v=19$m=19456,t=100000,p=1$" + salt + "$" + key, false},
		{"threads 0", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key, false},
		{"threads 256", "$argon2id$v=19$m=19456,t=2,p=256$" + salt + "$" + key, false},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, false},
		{"url base64", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.ReplaceAll(key, "/", "_"), false},
		{"short salt", "$argon2id$v=19$m=19456,t=2,p=1$AAAA$" + key, false},
		{"short hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$AAAA", false},
		{"trailing field", good + "$x", false},
		{"no leading dollar", good[1:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePHC(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("parsePHC(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrBadHash) {
					t.Errorf("error %v does not wrap ErrBadHash", err)
				}
				if ok, verr := VerifyPassword(tc.in, "pw"); ok || !errors.Is(verr, ErrBadHash) {
					t.Errorf("VerifyPassword on a bad hash = %v, %v", ok, verr)
				}
				return
			}
			if diff := cmp.Diff(good, p.String()); diff != "" {
				t.Errorf("re-encoded (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParsePHC(f *testing.F) {
	for _, h := range nodeRsHashes(f) {
		f.Add(h.Hash)
	}
	for _, s := range []string{"", "$", "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=,t=,p=$$", "$argon2id$v=19$t=1,p=1,m=8$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrBadHash) {
				t.Fatalf("error %v does not wrap ErrBadHash", err)
			}
			return
		}
		// Whatever parses is within bounds and survives a round trip.
		if p.memory > maxMemory || p.time > maxTime || p.threads == 0 || p.threads > maxThreads ||
			len(p.salt) < minSaltLen || len(p.key) < minKeyLen {
			t.Fatalf("out-of-bounds parameters accepted from %q: %+v", s, p)
		}
		q, err := parsePHC(p.String())
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", p.String(), err)
		}
		if p.String() != q.String() {
			t.Fatalf("round trip changed %q to %q", p.String(), q.String())
		}
	})
}
