package prior

import (
	"bytes"
	"slices"
	"testing"
)

// TestParseStat: the parent pid and state are counted from the last ')',
// so a command name holding spaces and parentheses cannot shift them.
func TestParseStat(t *testing.T) {
	for _, c := range []struct {
		in     string
		ppid   int
		zombie bool
	}{
		{"42 (cloudflared) S 7 42 42 0 -1", 7, false},
		{"42 (a) b (c)) R 77 1 1", 77, false},
		{"42 (x) Z 9 0", 9, true},
		{"42 (x) X 9", 9, true},
	} {
		ppid, zombie, err := parseStat([]byte(c.in))
		if err != nil || ppid != c.ppid || zombie != c.zombie {
			t.Errorf("parseStat(%q) = %d, %v, %v; want %d, %v", c.in, ppid, zombie, err, c.ppid, c.zombie)
		}
	}
	for _, bad := range []string{"", "42 cloudflared S 7", "42 (x) S", "42 (x) S seven", "42 (x)"} {
		if _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestParseCmdline(t *testing.T) {
	if got := parseCmdline([]byte("cloudflared\x00tunnel\x00run\x00")); !slices.Equal(got, []string{"cloudflared", "tunnel", "run"}) {
		t.Errorf("parseCmdline = %q", got)
	}
	if got := parseCmdline(nil); got != nil {
		t.Errorf("parseCmdline(nil) = %q", got)
	}
}

// FuzzParseStat: /proc/<pid>/stat carries a command name any process
// chooses; parsing never panics, and what it reads does not depend on
// that name (the same fields after another name read the same).
func FuzzParseStat(f *testing.F) {
	for _, s := range []string{"42 (cloudflared) S 7 42 42 0 -1", "42 (a) b (c)) R 77 1", "42 (x) Z 9", "", ")", "1 () S -5"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseCmdline(b)
		ppid, zombie, err := parseStat(b)
		if err != nil {
			return
		}
		other := append([]byte("1 (x"), b[bytes.LastIndexByte(b, ')'):]...)
		if p2, z2, err := parseStat(other); err != nil || p2 != ppid || z2 != zombie {
			t.Fatalf("parseStat(%q) = %d, %v but parseStat(%q) = %d, %v, %v", b, ppid, zombie, other, p2, z2, err)
		}
	})
}
