package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The parameters of new hashes: @node-rs/argon2's defaults, which the
// reference hub uses (argon2id, m=19456 KiB, t=2, p=1, a 16-byte salt and
// a 32-byte hash; RFC 9106's second recommended option). Matching them
// means the reference verifies our hashes at the same cost it spends on its
// own, and neither side sees a reason to rehash.
const (
	defaultMemory  = 19456
	defaultTime    = 2
	defaultThreads = 1
	saltLen        = 16
	keyLen         = 32
)

// MaxPasswordBytes caps what is hashed or verified. Why: argon2id costs the
// same for any length, but hashing first copies and pre-hashes the input, so
// an unauthenticated login POST with a megabyte password would still buy
// work and memory; a human's passphrase is far below 1 KiB.
const MaxPasswordBytes = 1024

// Bounds on the parameters Verify accepts from a stored hash. Why: the
// hash comes from hub.db, which another program (or a restored backup) may
// have written; without a ceiling a hash claiming m=4 GiB would make every
// login try to allocate it.
const (
	maxMemory  = 1 << 20 // KiB, 1 GiB
	maxTime    = 64
	maxThreads = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
)

// ErrPasswordTooLong is returned for a password over MaxPasswordBytes.
var ErrPasswordTooLong = fmt.Errorf("password is longer than %d bytes", MaxPasswordBytes)

// ErrBadHash is returned (wrapped) for a stored hash this package cannot
// read: not PHC, not argon2id version 19, or parameters out of bounds.
var ErrBadHash = errors.New("unsupported password hash")

// phc is a parsed argon2id hash string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, salt and hash
// in unpadded standard base64, as the PHC string format specifies.
type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

// String renders p in PHC form.
func (p phc) String() string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s",
		p.memory, p.time, p.threads, b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

// HashPassword returns a new argon2id hash of password in PHC form, with a
// random salt and the reference's parameters.
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading a random salt: %w", err)
	}
	p := phc{memory: defaultMemory, time: defaultTime, threads: defaultThreads, salt: salt}
	p.key = argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, keyLen)
	return p.String(), nil
}

// VerifyPassword reports whether password matches the PHC hash encoded.
// A mismatch is (false, nil); an unreadable hash is an error wrapping
// ErrBadHash; a password over MaxPasswordBytes is ErrPasswordTooLong and
// is never hashed. The comparison takes constant time.
func VerifyPassword(encoded, password string) (bool, error) {
	if len(password) > MaxPasswordBytes {
		return false, ErrPasswordTooLong
	}
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(got, p.key) == 1, nil
}

// parsePHC reads an argon2id PHC string. It accepts what @node-rs/argon2
// writes (and the PHC format allows): parameters m, t and p in any order,
// each once, and salt and hash in unpadded standard base64. It rejects
// argon2i and argon2d, versions other than 19 (0x13), the optional keyid
// and data parameters, and parameters outside the bounds above.
func parsePHC(s string) (phc, error) {
	bad := func(why string) (phc, error) { return phc{}, fmt.Errorf("%w: %s", ErrBadHash, why) }
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string with version, parameters, salt and hash")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if parts[2] != "v=19" {
		return bad("argon2 version is not 19")
	}
	var p phc
	var seen [3]bool
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return bad("malformed parameter")
		}
		idx := strings.Index("mtp", k)
		if len(k) != 1 || idx < 0 {
			return bad("unknown parameter " + strconv.Quote(k))
		}
		if seen[idx] {
			return bad("repeated parameter " + k)
		}
		seen[idx] = true
		// PHC decimals: no sign, no leading zero.
		if v == "" || (len(v) > 1 && v[0] == '0') || strings.TrimLeft(v, "0123456789") != "" {
			return bad("parameter " + k + " is not a decimal")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + k + " is out of range")
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n == 0 || n > maxThreads {
				return bad("parallelism out of bounds")
			}
			p.threads = uint8(n)
		}
	}
	if seen != [3]bool{true, true, true} {
		return bad("missing one of the parameters m, t, p")
	}
	if p.time < 1 || p.time > maxTime {
		return bad("time cost out of bounds")
	}
	// Argon2 requires at least 8 KiB per lane.
	if p.memory < 8*uint32(p.threads) || p.memory > maxMemory {
		return bad("memory cost out of bounds")
	}
	var err error
	if p.salt, err = b64.Strict().DecodeString(parts[4]); err != nil {
		return bad("salt is not unpadded base64")
	}
	if p.key, err = b64.Strict().DecodeString(parts[5]); err != nil {
		return bad("hash is not unpadded base64")
	}
	if len(p.salt) < minSaltLen || len(p.salt) > maxSaltLen {
		return bad("salt length out of bounds")
	}
	if len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
		return bad("hash length out of bounds")
	}
	return p, nil
}
