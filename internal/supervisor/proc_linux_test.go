package supervisor

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	line := "1234 (we(ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615"
	st, err := parseStat(1234, []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{PID: 1234, PGID: 1234, SID: 1234, Start: 98765, CPU: 30 * time.Millisecond, RSS: 10 * int64(os.Getpagesize())}
	if st != want {
		t.Errorf("parseStat = %+v", st)
	}
	if _, err := parseStat(1, []byte("1 (x) S 1")); err == nil {
		t.Errorf("short line parsed")
	}
}

// FuzzParseStat: the command name in /proc/<pid>/stat is whatever the module
// set (prctl PR_SET_NAME), so the parser eats untrusted bytes.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (we(ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615"))
	f.Add([]byte("1 (x) S 1"))
	f.Add([]byte("7 ()) Z 1 7 7 0 -1 0 0 0 0 0 99999999999999999999 -1 0 0 20 0 1 0 5 0 -3"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(1, b)
		if err != nil {
			return
		}
		if st.CPU < 0 || st.RSS < 0 {
			t.Errorf("negative usage from %q: %+v", b, st)
		}
	})
}
