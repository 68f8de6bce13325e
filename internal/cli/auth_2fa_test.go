package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/openparachute/parachute/internal/twofactor"
)

// withStdin makes the next command read s as its stdin.
func withStdin(t *testing.T, s string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	old := stdin
	stdin = f
	t.Cleanup(func() { stdin = old; f.Close() })
}

func TestAuth2FA(t *testing.T) {
	accountsRoot(t)
	seed := bytes.Repeat([]byte{7}, 64)
	enrolRand = bytes.NewReader(seed)
	t.Cleanup(func() { enrolRand = nil })
	key, err := twofactor.NewKey("owner", bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCodeCustom(key.Secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout []string
		stderr string
	}{
		{"no user yet", []string{"auth", "2fa", "status"}, "", ExitFail, nil, "no hub user yet; create one with `parachute auth set-password`"},
		{"create user", []string{"auth", "set-password", "--password", "first passphrase"}, "", ExitOK, nil, ""},
		{"bare 2fa is status", []string{"auth", "2fa"}, "", ExitOK, []string{`2FA for "owner": off.`}, ""},
		{"unknown sub", []string{"auth", "2fa", "frob"}, "", ExitUsage, nil, "unknown command \"frob\" (commands: status, enroll, disenroll)"},
		{"unknown user", []string{"auth", "2fa", "status", "--username", "nobody"}, "", ExitFail, nil, `no user named "nobody"`},
		{"enroll --help names --username", []string{"auth", "2fa", "enroll", "--help"}, "", ExitOK,
			[]string{"parachute auth 2fa enroll [--username <name>]"}, ""},
		{"nothing typed", []string{"auth", "2fa", "enroll"}, "", ExitFail, nil, "no code was entered; run `parachute auth 2fa enroll` on a terminal"},
		{"wrong code", []string{"auth", "2fa", "enroll"}, "000000\n", ExitFail, []string{key.Secret}, "that code does not match"},
		{"enroll", []string{"auth", "2fa", "enroll"}, code + "\n", ExitOK,
			[]string{"otpauth://totp/", key.Secret, `2FA is on for "owner"`}, ""},
		{"status on", []string{"auth", "2fa", "status"}, "", ExitOK, []string{`2FA for "owner": on (10 backup codes left).`}, ""},
		{"enroll twice", []string{"auth", "2fa", "enroll"}, "", ExitFail, nil, "already on"},
		{"disenroll", []string{"auth", "2fa", "disenroll", "--username", "owner"}, "", ExitOK, []string{`2FA for "owner" is off.`}, ""},
		{"status off", []string{"auth", "2fa", "status"}, "", ExitOK, []string{"off"}, ""},
	}
	for _, s := range steps {
		if s.name == "enroll" || s.name == "wrong code" {
			enrolRand = bytes.NewReader(seed)
		}
		withStdin(t, s.stdin)
		var out, errOut bytes.Buffer
		got := Main(context.Background(), s.args, &out, &errOut)
		if got != s.code || !strings.Contains(errOut.String(), s.stderr) {
			t.Fatalf("%s: Main(%q) = %d\nstdout: %s\nstderr: %s", s.name, s.args, got, out.String(), errOut.String())
		}
		for _, w := range s.stdout {
			if !strings.Contains(out.String(), w) {
				t.Fatalf("%s: stdout lacks %q:\n%s", s.name, w, out.String())
			}
		}
		if s.name == "enroll" {
			if n := strings.Count(out.String(), "\n  ") - 2; n != 10 {
				t.Fatalf("backup codes printed: %d, want 10\n%s", n, out.String())
			}
		}
	}
}
