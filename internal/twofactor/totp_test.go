package twofactor

import (
	"bytes"
	"encoding/base32"
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// fakeClock is a settable clock for the verifier and replay cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// testSecret is a fixed 20-byte secret in canonical base32.
var testSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("parachute-2fa-secret"))

// codeAt is the code of a given step, computed by the library, not by us.
func codeAt(t *testing.T, secret string, step uint64) string {
	t.Helper()
	c, err := hotp.GenerateCodeCustom(secret, step, opts)
	if err != nil {
		t.Fatalf("GenerateCodeCustom: %v", err)
	}
	return c
}

// TestRFC6238SHA1Vectors checks every SHA-1 row of RFC 6238 Appendix B
// (8 digits, T0 = 0, X = 30 s, seed "12345678901234567890").
func TestRFC6238SHA1Vectors(t *testing.T) {
	seed := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	vo := totp.ValidateOpts{Period: 30, Skew: 0, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1}
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		at := time.Unix(tc.unix, 0).UTC()
		t.Run(at.Format(time.RFC3339), func(t *testing.T) {
			ok, err := totp.ValidateCustom(tc.want, seed, at, vo)
			if err != nil || !ok {
				t.Errorf("ValidateCustom(%s at %d) = %v, %v; want true", tc.want, tc.unix, ok, err)
			}
			got, err := totp.GenerateCodeCustom(seed, at, vo)
			if err != nil || got != tc.want {
				t.Errorf("GenerateCodeCustom(at %d) = %q, %v; want %q", tc.unix, got, err, tc.want)
			}
			// One step later the vector must no longer validate with no skew.
			if ok, _ := totp.ValidateCustom(tc.want, seed, at.Add(30*time.Second), vo); ok {
				t.Errorf("%s still valid one step later", tc.want)
			}
		})
	}
}

func TestVerifySkewEdges(t *testing.T) {
	const step = 56_666_666 // an arbitrary step in 2023
	start := time.Unix(step*30, 0)
	for _, tc := range []struct {
		name string
		at   time.Time // the verifier's clock
		code uint64    // the step whose code is submitted
		want bool
	}{
		{"current step", start, step, true},
		{"one step behind", start, step - 1, true},
		{"one step ahead", start, step + 1, true},
		{"two steps behind", start, step - 2, false},
		{"two steps ahead", start, step + 2, false},
		{"last instant of the step accepts next", start.Add(30*time.Second - time.Nanosecond), step + 1, true},
		{"last instant of the step refuses step+2", start.Add(30*time.Second - time.Nanosecond), step + 2, false},
		{"first instant of the next step still accepts step-1", start.Add(30 * time.Second), step, true},
		{"first instant of the next step refuses step-1", start.Add(30 * time.Second), step - 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{t: tc.at}
			v := NewVerifier(clk.Now)
			got, err := v.Verify(testSecret, codeAt(t, testSecret, tc.code))
			if err != nil || got != tc.want {
				t.Errorf("Verify = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestVerifyInputForms(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	step := uint64(clk.Now().Unix() / 30)
	code := codeAt(t, testSecret, step)
	for _, tc := range []struct {
		name, secret, code string
		want               bool
	}{
		{"spaced code", testSecret, code[:3] + " " + code[3:], true},
		{"lower-case padded secret", string(bytes.ToLower([]byte(testSecret))) + "====", code, true},
		{"letters in code", testSecret, "12a456", false},
		{"seven digits", testSecret, code + "1", false},
		{"empty code", testSecret, "", false},
		{"bad secret", "not base32!", code, false},
		{"short secret", "ABCDEFGH", code, false},
		{"wrong code", testSecret, "000000", code == "000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(clk.Now)
			got, err := v.Verify(tc.secret, tc.code)
			if err != nil || got != tc.want {
				t.Errorf("Verify(%q, %q) = %v, %v; want %v", tc.secret, tc.code, got, err, tc.want)
			}
		})
	}
}

func TestVerifyRefusesReplay(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	v := NewVerifier(clk.Now)
	step := uint64(clk.Now().Unix() / 30)
	code := codeAt(t, testSecret, step)
	other := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("another-secret-20byt"))

	seq := []struct {
		name    string
		advance time.Duration
		secret  string
		code    string
		want    bool
	}{
		{"first use accepted", 0, testSecret, code, true},
		{"immediate replay refused", 0, testSecret, code, false},
		{"replay a step later, still in window, refused", 30 * time.Second, testSecret, code, false},
		{"other user's code for the same step accepted", 0, other, codeAt(t, other, step), true},
		{"next step's code accepted", 0, testSecret, codeAt(t, testSecret, step+1), true},
		{"out of window after 60 s more", 60 * time.Second, testSecret, code, false},
	}
	for _, s := range seq {
		clk.Add(s.advance)
		got, err := v.Verify(s.secret, s.code)
		if err != nil || got != s.want {
			t.Fatalf("%s: Verify = %v, %v; want %v", s.name, got, err, s.want)
		}
	}
}

// TestVerifyConcurrentReplay: of many logins racing with one code, exactly
// one succeeds.
func TestVerifyConcurrentReplay(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	v := NewVerifier(clk.Now)
	code := codeAt(t, testSecret, uint64(clk.Now().Unix()/30))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := v.Verify(testSecret, code); ok && err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Errorf("%d racing verifications succeeded; want exactly 1", got)
	}
}

func TestReplayCacheBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := NewReplayCache(clk.Now, 3)
	for i := range uint64(3) {
		if ok, err := c.MarkUsed(testSecret, i); !ok || err != nil {
			t.Fatalf("MarkUsed(%d) = %v, %v", i, ok, err)
		}
	}
	if ok, err := c.MarkUsed(testSecret, 1); ok || err != nil {
		t.Errorf("replay while full = %v, %v; want false, nil", ok, err)
	}
	if ok, err := c.MarkUsed(testSecret, 3); ok || !errors.Is(err, ErrReplayCacheFull) {
		t.Errorf("fourth entry = %v, %v; want ErrReplayCacheFull", ok, err)
	}
	clk.Add(ReplayTTL - time.Nanosecond)
	if ok, _ := c.MarkUsed(testSecret, 0); ok {
		t.Error("entry forgotten before ReplayTTL")
	}
	clk.Add(time.Nanosecond)
	if ok, err := c.MarkUsed(testSecret, 3); !ok || err != nil {
		t.Errorf("after TTL = %v, %v; want true", ok, err)
	}
	if got := c.Len(); got != 1 {
		t.Errorf("Len after sweep = %d; want 1", got)
	}
}

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		wantErr        bool
	}{
		{"canonical", testSecret, testSecret, false},
		{"lower case", "jbswy3dpehpk3pxp", "JBSWY3DPEHPK3PXP", false},
		{"padding and spaces", "  JBSWY3DPEHPK3PXP====  ", "JBSWY3DPEHPK3PXP", false},
		{"fifteen chars", "JBSWY3DPEHPK3PX", "", true},
		{"digit 1 not base32", "JBSWY3DPEHPK3PX1", "", true},
		{"padding in the middle", "JBSWY3DP=EHPK3PXP", "", true},
		{"undecodable length 17", "JBSWY3DPEHPK3PXPA", "", true},
		{"empty", "", "", true},
		{"too long", string(bytes.Repeat([]byte("A"), 200)), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSecret(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseSecret(%q) = %q, %v; want %q, err=%v", tc.in, got, err, tc.want, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("error %v is not ErrInvalidSecret", err)
			}
		})
	}
}

func TestNewKey(t *testing.T) {
	k, err := NewKey("alice", bytes.NewReader([]byte("parachute-2fa-secret")))
	if err != nil {
		t.Fatal(err)
	}
	if k.Secret != testSecret {
		t.Errorf("Secret = %q; want %q", k.Secret, testSecret)
	}
	u, err := url.Parse(k.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"scheme": u.Scheme, "host": u.Host, "path": u.Path}
	for _, q := range []string{"issuer", "secret", "algorithm", "digits", "period"} {
		got[q] = u.Query().Get(q)
	}
	want := map[string]string{
		"scheme": "otpauth", "host": "totp", "path": "/Parachute Hub:alice",
		"issuer": "Parachute Hub", "secret": testSecret, "algorithm": "SHA1", "digits": "6", "period": "30",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("otpauth URL %s (-want +got):\n%s", k.URL, d)
	}
	again, err := KeyFor(string(bytes.ToLower([]byte(k.Secret))), "alice")
	if err != nil || again != k {
		t.Errorf("KeyFor = %+v, %v; want %+v", again, err, k)
	}
	if _, err := NewKey("alice", bytes.NewReader(nil)); err == nil {
		t.Error("NewKey with an empty reader succeeded")
	}
	if _, err := NewKey("", nil); err == nil {
		t.Error("NewKey with no account succeeded")
	}
	fresh, err := NewKey("bob", nil)
	if err != nil || len(fresh.Secret) != 32 {
		t.Errorf("NewKey(crypto/rand) = %q, %v; want 32 base32 chars", fresh.Secret, err)
	}
}
