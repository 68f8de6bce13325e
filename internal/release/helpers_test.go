package release

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
)

// scratch holds what the tests of this package share (the dist build); it
// is removed when they end.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "release-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testStamp is the release the shared build stamps: fixed, so the tests do
// not depend on the repository's tags or commit.
var testStamp = Stamp{
	Version: "1.0.0",
	Commit:  "0123456789abcdef0123456789abcdef01234567",
	Time:    time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
}

// hostTarget is the one platform the tests build (and can run).
var hostTarget = Target{"linux", runtime.GOARCH}

var (
	distOnce sync.Once
	distRes  *Result
	distErr  error
)

// sharedDist builds the release for the host's Linux platform once per
// test binary (the Go build dominates; everything else reads it).
func sharedDist(t *testing.T) *Result {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the release is built and tested on Linux")
	}
	if testing.Short() {
		t.Skip("-short: not building the release")
	}
	distOnce.Do(func() {
		distRes, distErr = Build(context.Background(), Options{
			Root: repoRoot(t), Out: filepath.Join(scratch, "dist"), Stamp: testStamp,
			Targets: []Target{hostTarget},
		})
	})
	if distErr != nil {
		t.Fatalf("building the release: %v", distErr)
	}
	return distRes
}

// repoRoot is the repository root (two levels up from this package).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// need returns the path of a tool, or skips (fails in CI) without it.
func need(t testing.TB, tool, apt string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		testenv.Unavailable(t, "%s not found (apt-get install %s)", tool, apt)
	}
	return p
}

// run runs a command and returns its standard output, failing the test
// when it fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	return runCmd(t, exec.Command(name, args...))
}

// runCmd runs cmd and returns its standard output, failing the test when
// it fails. Standard error is kept apart, never parsed: tools print
// warnings there (Debian's nix-bin warns about a missing nixbld group on a
// fresh machine), and a warning inside the text a test decodes would fail
// it for the wrong reason. It goes into the failure message, and into the
// test log when the command succeeds.
func runCmd(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, out, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Logf("%s printed on stderr:\n%s", filepath.Base(cmd.Path), stderr.Bytes())
	}
	return string(out)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: %v", what, err)
}
