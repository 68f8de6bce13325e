package supervisor

import "testing"

func TestParseStat(t *testing.T) {
	line := "1234 (we(ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615"
	st, err := parseStat(1234, []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st != (procStat{PID: 1234, PGID: 1234, SID: 1234, Start: 98765}) {
		t.Errorf("parseStat = %+v", st)
	}
	if _, err := parseStat(1, []byte("1 (x) S 1")); err == nil {
		t.Errorf("short line parsed")
	}
}
