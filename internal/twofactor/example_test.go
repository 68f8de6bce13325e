package twofactor_test

import (
	"fmt"
	"time"

	"github.com/openparachute/parachute/internal/twofactor"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Example shows the enrolment and login steps the account and login
// handlers compose; the hash pair stands in for the password package's
// argon2id.
func Example() {
	hash := func(s string) (string, error) { return "$demo$" + s, nil }
	verify := func(h, s string) (bool, error) { return h == "$demo$"+s, nil }
	now := time.Unix(1_700_000_000, 0)
	v := twofactor.NewVerifier(func() time.Time { return now })

	// action=start: a new key; the page shows QRSVG(key.URL) and key.Secret,
	// and round-trips key.Secret in a hidden field.
	key, _ := twofactor.NewKey("alice", nil)
	svg, _ := twofactor.QRSVG(key.URL)

	// action=confirm: re-validate the hidden field, check a live code, then
	// store the secret and the hashed backup codes in users.
	secret, _ := twofactor.ParseSecret(key.Secret)
	code, _ := totp.GenerateCodeCustom(secret, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	ok, _ := v.Verify(secret, code)
	codes, stored, _ := twofactor.GenerateBackupCodes(nil, hash)

	// /login/2fa: TOTP first; a replay is refused; then a backup code, whose
	// remaining list is written back in the same transaction.
	replay, _ := v.Verify(secret, code)
	remaining, used, _ := twofactor.MatchBackupCode(stored, codes[0], verify)
	left, _ := twofactor.CountBackupCodes(remaining)

	fmt.Println(len(svg) > 0, ok, len(codes), replay, used, left)
	// Output: true true 10 false true 9
}
