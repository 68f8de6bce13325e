package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Bun returns the directory holding a bun executable for tests that run
// real bun: bun on PATH, else one installed from npm into a cache under
// $TMPDIR shared by every test run and package (it is ~100 MB; fetching it
// every run would dominate the suite). Without bun or npm it calls
// Unavailable.
func Bun(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("bun"); err == nil {
		return filepath.Dir(p)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		Unavailable(t, "needs bun, or npm to install it: %v", err)
	}
	prefix := filepath.Join(os.TempDir(), "parachute-test-bun")
	bin := filepath.Join(prefix, "bin")
	if out, err := exec.Command(filepath.Join(bin, "bun"), "--version").CombinedOutput(); err == nil && len(out) > 0 {
		return bin
	}
	cmd := exec.Command("npm", "install", "-g", "--no-fund", "--no-audit", "bun")
	cmd.Env = append(os.Environ(), "NPM_CONFIG_PREFIX="+prefix)
	if out, err := cmd.CombinedOutput(); err != nil {
		Unavailable(t, "could not install bun from npm: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(bin, "bun"), "--version").CombinedOutput(); err != nil {
		Unavailable(t, "bun installed from npm does not run here: %v\n%s", err, out)
	}
	return bin
}
