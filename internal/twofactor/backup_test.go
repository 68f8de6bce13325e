package twofactor

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeHash stands in for argon2id: the password package owns the real one,
// and these tests are about formatting, storage and consumption.
func fakeHash(s string) (string, error) { return "$fake$" + s, nil }

func fakeVerify(h, s string) (bool, error) {
	if !strings.HasPrefix(h, "$fake$") {
		return false, errors.New("not a fake hash")
	}
	return h == "$fake$"+s, nil
}

var codeShape = regexp.MustCompile(`^[abcdefghjkmnpqrstuvwxyz23456789]{5}-[abcdefghjkmnpqrstuvwxyz23456789]{5}$`)

func TestGenerateBackupCodes(t *testing.T) {
	var seen []string
	codes, stored, err := GenerateBackupCodes(nil, func(s string) (string, error) {
		seen = append(seen, s)
		return fakeHash(s)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != BackupCodeCount {
		t.Fatalf("%d codes; want %d", len(codes), BackupCodeCount)
	}
	uniq := map[string]bool{}
	for i, c := range codes {
		if !codeShape.MatchString(c) {
			t.Errorf("code %q is not xxxxx-xxxxx over the 31-character alphabet", c)
		}
		if seen[i] != strings.ReplaceAll(c, "-", "") {
			t.Errorf("hashed %q for code %q; want the normalised form", seen[i], c)
		}
		uniq[c] = true
	}
	if len(uniq) != BackupCodeCount {
		t.Errorf("duplicate codes in %v", codes)
	}
	var hashes []string
	if err := json.Unmarshal([]byte(stored), &hashes); err != nil {
		t.Fatalf("stored %q is not a JSON array of strings: %v", stored, err)
	}
	if len(hashes) != BackupCodeCount || hashes[0] != "$fake$"+seen[0] {
		t.Errorf("stored hashes = %v", hashes)
	}
	if _, _, err := GenerateBackupCodes(nil, func(string) (string, error) { return "", io.ErrUnexpectedEOF }); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("hash error = %v; want it wrapped", err)
	}
	if _, _, err := GenerateBackupCodes(bytes.NewReader([]byte{1, 2, 3}), fakeHash); err == nil {
		t.Error("short random reader did not fail")
	}
}

// TestBackupCodeUnbiased: bytes at or above 248 (8*31) are dropped rather
// than folded onto the first characters, as the reference's byte%31 does.
func TestBackupCodeUnbiased(t *testing.T) {
	src := append(bytes.Repeat([]byte{255, 248}, 8), // all rejected
		0, 30, 31, 247, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0)
	got, err := randomBackupCode(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a9a9b-cdefg"; got != want {
		t.Errorf("randomBackupCode = %q; want %q", got, want)
	}
}

func TestNormalizeBackupCode(t *testing.T) {
	for in, want := range map[string]string{
		"abcde-fghjk":      "abcdefghjk",
		"  ABCDE-FGHJK\n":  "abcdefghjk",
		"abc de\tfg-h-jk":  "abcdefghjk",
		"abcde\u00a0fghjk": "abcdefghjk", // JS \s includes no-break space
		"--":               "",
		"ÀBCDE":            "àbcde",
	} {
		if got := NormalizeBackupCode(in); got != want {
			t.Errorf("NormalizeBackupCode(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestMatchBackupCodeSingleUse is the reference's "used twice: the first
// succeeds and the second fails; a wrong code consumes nothing", with the
// caller writing back what Match returns.
func TestMatchBackupCodeSingleUse(t *testing.T) {
	codes, stored, err := GenerateBackupCodes(nil, fakeHash)
	if err != nil {
		t.Fatal(err)
	}
	seq := []struct {
		name      string
		input     string
		wantOK    bool
		wantCount int
	}{
		{"wrong code consumes nothing", "aaaaa-aaaaa", false, 10},
		{"not code-shaped", "123456", false, 10},
		{"third code, typed in capitals without hyphen", strings.ToUpper(strings.ReplaceAll(codes[2], "-", "")), true, 9},
		{"same code again", codes[2], false, 9},
		{"last code with spaces", " " + codes[9][:5] + " " + codes[9][6:] + " ", true, 8},
		{"first code", codes[0], true, 7},
	}
	for _, s := range seq {
		rest, ok, err := MatchBackupCode(stored, s.input, fakeVerify)
		if err != nil || ok != s.wantOK {
			t.Fatalf("%s: Match = %v, %v; want %v", s.name, ok, err, s.wantOK)
		}
		if ok {
			stored = rest
		}
		if n, _ := CountBackupCodes(stored); n != s.wantCount {
			t.Fatalf("%s: %d codes left; want %d", s.name, n, s.wantCount)
		}
	}
}

func TestMatchBackupCodeStorage(t *testing.T) {
	const code = "abcde-fghjk"
	h, _ := fakeHash("abcdefghjk")
	for _, tc := range []struct {
		name     string
		stored   string
		wantRest string
		wantOK   bool
		wantErr  error
	}{
		{"NULL column", "", "", false, nil},
		{"json null", "null", "", false, nil},
		{"empty array", "[]", "", false, nil},
		{"only code", `["` + h + `"]`, "[]", true, nil},
		{"middle of three keeps order", `["$fake$x","` + h + `","$fake$y"]`, `["$fake$x","$fake$y"]`, true, nil},
		{"non-strings dropped as the reference does", `[1,null,"` + h + `","$fake$y"]`, `["$fake$y"]`, true, nil},
		{"unreadable hash skipped", `["$argon2id$garbage","` + h + `"]`, `["$argon2id$garbage"]`, true, nil},
		{"PHC characters not escaped", `["$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA+/","` + h + `"]`, `["$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA+/"]`, true, nil},
		{"object", `{"a":1}`, "", false, ErrCorruptBackupCodes},
		{"truncated", `["abc`, "", false, ErrCorruptBackupCodes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest, ok, err := MatchBackupCode(tc.stored, code, fakeVerify)
			if !errors.Is(err, tc.wantErr) || ok != tc.wantOK {
				t.Fatalf("Match = %q, %v, %v; want ok=%v err=%v", rest, ok, err, tc.wantOK, tc.wantErr)
			}
			if d := cmp.Diff(tc.wantRest, rest); d != "" {
				t.Errorf("remaining (-want +got):\n%s", d)
			}
		})
	}
}

// TestMatchBackupCodeNoHashWorkOnJunk: input that cannot be a code never
// reaches the (argon2id, deliberately slow) verifier.
func TestMatchBackupCodeNoHashWorkOnJunk(t *testing.T) {
	calls := 0
	verify := func(h, s string) (bool, error) { calls++; return fakeVerify(h, s) }
	_, stored, _ := GenerateBackupCodes(nil, fakeHash)
	for _, in := range []string{"", "123456", "abcde-fghj", "abcde-fghjkm", "abcde-fghj0", "abcde-fghji", strings.Repeat("a", 10000)} {
		if _, ok, err := MatchBackupCode(stored, in, verify); ok || err != nil {
			t.Errorf("Match(%q) = %v, %v", in, ok, err)
		}
	}
	if calls != 0 {
		t.Errorf("verifier called %d times for impossible codes", calls)
	}
}
