package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// initBudget is what one of this module's packages may allocate in its
// package initialisers. Go runs all of them on every exec, whatever the
// verb, so read-only verbs like `status` pay for them; patterns and tables
// belong in lazy values (internal/lazyre, sync.OnceValue) instead.
const initBudget = 1 << 10

// totalInitBudget is what all package initialisers together, ours and our
// dependencies', may allocate. A dependency that builds tables at init
// costs every exec: github.com/santhosh-tekuri/jsonschema/v6 compiled its
// meta-schemas there (1.7 MB, 3 ms), and was replaced for it.
//
// Measured with go1.26.8 on linux/amd64, built as releases are (-tags
// urfave_cli_no_docs, as buildBinary does), GODEBUG=inittrace=1 parachute
// version: 138,872 bytes without any JSON Schema library; 220,112 with
// github.com/google/jsonschema-go (81,256 of them); 1,849,944 with
// santhosh-tekuri. The budget is about 50% over 220,112.
const totalInitBudget = 320 << 10

// TestInitCost builds the binary and reads GODEBUG=inittrace=1 from
// `parachute version`: none of our packages may allocate more than
// initBudget at start-up, and all packages together no more than
// totalInitBudget.
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
	type pkgInit struct {
		bytes int
		pkg   string
	}
	var heavy []pkgInit // the packages above initBudget, for the failure message
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
		if bytes > initBudget {
			heavy = append(heavy, pkgInit{bytes, f[1]})
		}
	}
	if n == 0 {
		t.Fatalf("no inittrace lines in:\n%s", out)
	}
	t.Logf("%d packages allocate %d bytes in total at init", n, total)
	if total > totalInitBudget {
		slices.SortFunc(heavy, func(a, b pkgInit) int { return b.bytes - a.bytes })
		var heaviest []string
		for _, h := range heavy {
			heaviest = append(heaviest, fmt.Sprintf("%9d %s", h.bytes, h.pkg))
		}
		t.Errorf("all package inits allocate %d bytes (budget %d); a dependency probably builds tables at init: "+
			"find it among these (bytes, package) and replace it or keep it out of the binary:\n%s",
			total, totalInitBudget, strings.Join(heaviest, "\n"))
	}
}

// buildBinary builds parachute into t's temp directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parachute")
	build := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
