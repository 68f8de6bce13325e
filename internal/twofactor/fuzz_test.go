package twofactor

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseSecret: any accepted secret is canonical, idempotent, decodes to
// at least 10 bytes and can build a Key and verify without error.
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{testSecret, "jbswy3dpehpk3pxp", "JBSWY3DPEHPK3PXP====", "JBSWY3DPEHPK3PXPA", "", "ABCDEFGH12345678", " \t=", strings.Repeat("A", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		canon, err := ParseSecret(s)
		if err != nil {
			return
		}
		if again, err := ParseSecret(canon); err != nil || again != canon {
			t.Fatalf("ParseSecret(%q) = %q, but ParseSecret(%q) = %q, %v", s, canon, canon, again, err)
		}
		raw, err := decodeSecret(canon)
		if err != nil || len(raw) < 10 {
			t.Fatalf("accepted %q decodes to %d bytes, %v", canon, len(raw), err)
		}
		if _, err := KeyFor(canon, "alice"); err != nil {
			t.Fatalf("KeyFor(%q): %v", canon, err)
		}
		if _, err := NewVerifier(func() time.Time { return time.Unix(1_700_000_000, 0) }).Verify(canon, "123456"); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

// FuzzCodes: the TOTP and backup-code normalisers never accept anything
// but their documented shapes, and Match never grows the stored list.
func FuzzCodes(f *testing.F) {
	f.Add("123 456", `["$fake$abcdefghjk"]`)
	f.Add("ABCDE-FGHJK", `["$fake$abcdefghjk","$fake$x"]`)
	f.Add("١٢٣٤٥٦", "null")
	f.Add("abcde\u00a0fghjk", `[1,"x",{}]`)
	f.Add("", `["`)
	f.Fuzz(func(t *testing.T, code, stored string) {
		if c, ok := NormalizeCode(code); ok {
			if len(c) != 6 || strings.Trim(c, "0123456789") != "" {
				t.Fatalf("NormalizeCode(%q) accepted %q", code, c)
			}
		}
		before, err := CountBackupCodes(stored)
		rest, ok, merr := MatchBackupCode(stored, code, fakeVerify)
		if (err == nil) != (merr == nil) {
			t.Fatalf("Count err %v but Match err %v", err, merr)
		}
		if !ok {
			return
		}
		after, err := CountBackupCodes(rest)
		if err != nil || after != before-1 {
			t.Fatalf("Match consumed %d→%d (%v) from %q", before, after, err, stored)
		}
		if !isBackupCodeShape(NormalizeBackupCode(code)) {
			t.Fatalf("matched a code of the wrong shape: %q", code)
		}
	})
}
