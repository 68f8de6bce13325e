// Package twofactor holds the hub's second login factor as pure library
// code: TOTP secrets and codes (RFC 6238 through github.com/pquerna/otp), a
// replay cache for used codes, single-use backup codes and the QR code the
// enrolment page shows. It knows nothing of HTTP or hub.db: the login and
// account handlers compose it with the users table, which stores the base32
// secret in users.totp_secret and the backup codes as a JSON array of
// argon2id hashes in users.totp_backup_codes (the reference's format, so a
// hub.db moves between the two hubs with 2FA intact).
package twofactor

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters, the interoperable defaults every authenticator app
// understands and the ones the reference hub uses.
const (
	// Issuer labels the account in the authenticator app and the otpauth URL.
	Issuer = "Parachute Hub"
	// SecretSize is the size in bytes of a new secret (160 bits, RFC 4226's
	// recommendation); it encodes to 32 base32 characters.
	SecretSize = 20
	// Period is the TOTP time step.
	Period = 30 * time.Second
	// Skew is how many steps either side of the current one are accepted,
	// for clock drift between the phone and the hub.
	Skew = 1
	// Digits is the length of a TOTP code.
	Digits = 6

	// minSecretLen is the shortest user-supplied base32 secret accepted (80
	// bits); the reference applies the same floor to the enrolment form.
	minSecretLen = 16
	// maxSecretLen caps a user-supplied secret so a hostile form field
	// cannot make us decode or hash megabytes.
	maxSecretLen = 128
	// maxCodeLen caps a submitted code before it is normalised.
	maxCodeLen = 64
)

// ErrInvalidSecret reports a secret that is not base32 of at least 16
// characters; the enrolment page should ask the user to start again.
var ErrInvalidSecret = errors.New("invalid TOTP secret: want base32 (A-Z, 2-7) of at least 16 characters; start enrolment again")

// opts are the validation options shared by every TOTP check.
var opts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Key is a TOTP secret together with its provisioning URL.
type Key struct {
	// Secret is the base32 secret (upper case, unpadded): what hub.db stores
	// in users.totp_secret and what the user may type in by hand.
	Secret string
	// URL is the otpauth://totp/... provisioning URL the QR code encodes.
	URL string
}

// NewKey makes a fresh 20-byte secret for account (the username shown in the
// authenticator app), read from r, or from crypto/rand when r is nil.
// Nothing is stored: the caller persists Secret only once the user has
// confirmed a live code.
func NewKey(account string, r io.Reader) (Key, error) {
	if r == nil {
		r = rand.Reader
	}
	secret := make([]byte, SecretSize)
	if _, err := io.ReadFull(r, secret); err != nil {
		return Key{}, fmt.Errorf("reading random TOTP secret: %w", err)
	}
	return keyFor(secret, account)
}

// KeyFor rebuilds the Key of an existing base32 secret, for re-displaying
// the QR code during enrolment.
func KeyFor(secret, account string) (Key, error) {
	canon, err := ParseSecret(secret)
	if err != nil {
		return Key{}, err
	}
	raw, err := decodeSecret(canon)
	if err != nil {
		return Key{}, fmt.Errorf("decoding TOTP secret: %w", err)
	}
	return keyFor(raw, account)
}

func keyFor(secret []byte, account string) (Key, error) {
	if account == "" {
		return Key{}, errors.New("building otpauth url: empty account name")
	}
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer:      Issuer,
		AccountName: account,
		Period:      uint(Period / time.Second),
		Secret:      secret,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Key{}, fmt.Errorf("building otpauth url: %w", err)
	}
	return Key{Secret: k.Secret(), URL: k.URL()}, nil
}

// ParseSecret validates a user-supplied base32 secret (the hidden field that
// carries it between the enrolment steps, or one typed by hand) and returns
// it in canonical form: upper case, no padding or spaces. It accepts what
// the reference accepts (/^[A-Z2-7]+=*$/i, at least 16 characters) and also
// insists that the value decodes, so nothing undecodable reaches hub.db.
func ParseSecret(s string) (string, error) {
	if len(s) > maxSecretLen {
		return "", ErrInvalidSecret
	}
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.TrimRight(s, "=")
	if len(s) < minSecretLen {
		return "", ErrInvalidSecret
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return "", ErrInvalidSecret
		}
	}
	if _, err := decodeSecret(s); err != nil {
		return "", ErrInvalidSecret
	}
	return s, nil
}

// decodeSecret decodes a canonical secret the way pquerna/otp does when it
// validates (re-padded, strict StdEncoding). Why not b32.DecodeString: the
// unpadded decoder accepts lengths such as 17 that pquerna/otp then refuses,
// which would store a secret that can never verify.
func decodeSecret(canon string) ([]byte, error) {
	if r := len(canon) % 8; r != 0 {
		canon += strings.Repeat("=", 8-r)
	}
	return base32.StdEncoding.DecodeString(canon)
}

// NormalizeCode strips white space from a submitted TOTP code and reports
// whether what is left is exactly six ASCII digits.
func NormalizeCode(code string) (string, bool) {
	if len(code) > maxCodeLen {
		return "", false
	}
	code = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, code)
	if len(code) != Digits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// Verifier checks TOTP codes against the clock and refuses a code that has
// already been accepted once. It is safe for concurrent use.
type Verifier struct {
	now    func() time.Time
	replay *ReplayCache
}

// NewVerifier returns a Verifier reading time from now (time.Now when nil)
// with a replay cache of DefaultReplayEntries entries.
func NewVerifier(now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{now: now, replay: NewReplayCache(now, DefaultReplayEntries)}
}

// Verify reports whether code is a live TOTP code for secret: it matches the
// current 30 s step or one step either side, and that (secret, step) has not
// been accepted before. A malformed code or secret is simply false; the only
// error is a full replay cache, on which Verify fails closed.
func (v *Verifier) Verify(secret, code string) (bool, error) {
	code, ok := NormalizeCode(code)
	if !ok {
		return false, nil
	}
	secret, err := ParseSecret(secret)
	if err != nil {
		return false, nil
	}
	step, ok := matchStep(secret, code, v.now())
	if !ok {
		return false, nil
	}
	return v.replay.MarkUsed(secret, step)
}

// matchStep returns the time step in [now-Skew, now+Skew] whose code equals
// code, comparing in constant time.
func matchStep(secret, code string, now time.Time) (uint64, bool) {
	unix := now.Unix()
	if unix < 0 {
		return 0, false
	}
	cur := uint64(unix) / uint64(Period/time.Second)
	for _, d := range []int64{0, -1, 1} {
		if d < 0 && cur == 0 {
			continue
		}
		step := uint64(int64(cur) + d)
		ok, err := hotp.ValidateCustom(code, step, secret, opts)
		if err == nil && ok {
			return step, true
		}
	}
	return 0, false
}
