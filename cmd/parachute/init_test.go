package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// initBudget is what one of this module's packages may allocate in its
// package initialisers. Go runs all of them on every exec, whatever the
// verb, so read-only verbs like `status` pay for them; patterns and tables
// belong in lazy values (internal/lazyre, sync.OnceValue) instead.
const initBudget = 1 << 10

// TestInitCost builds the binary and reads GODEBUG=inittrace=1 from
// `parachute version`: none of our packages may allocate more than
// initBudget at start-up.
func TestInitCost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cmd := exec.Command(buildBinary(t), "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("parachute version: %v\n%s", err, out)
	}
	total, n := 0, 0
	for _, line := range strings.Split(string(out), "\n") {
		// init <pkg> @0.5 ms, 0.01 ms clock, 512 bytes, 3 allocs
		f := strings.Fields(line)
		if len(f) < 10 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		bytes, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("unexpected inittrace line %q", line)
		}
		total += bytes
		n++
		if strings.HasPrefix(f[1], "github.com/openparachute/") && bytes > initBudget {
			t.Errorf("%s allocates %d bytes at init (budget %d): make its package-level values lazy", f[1], bytes, initBudget)
		}
	}
	if n == 0 {
		t.Fatalf("no inittrace lines in:\n%s", out)
	}
	t.Logf("%d packages allocate %d bytes in total at init", n, total)
}
