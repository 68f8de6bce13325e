package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the release tooling out of the binary: every invocation
// of parachute pays for each package's initialisation and pages, so the
// packagers (nfpm, go-containerregistry) and their YAML and archive
// libraries belong to cmd/parachute-dist only.
func TestDeps(t *testing.T) {
	// Only stdout lists packages: with an empty module cache (a fresh
	// machine) stderr says "go: downloading gopkg.in/yaml.v3 ...", which
	// would read as a forbidden dependency.
	cmd := exec.Command("go", "list", "-deps", ".")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}
	forbidden := []string{
		"github.com/goreleaser/nfpm",
		"github.com/google/go-containerregistry",
		"gopkg.in/yaml",
		"go.yaml.in/yaml",
		"github.com/openparachute/parachute/internal/release",
		// Its init() compiles six regexps on every exec (0.25 ms, 200 KB),
		// even for `parachute status`; internal/semver has no init.
		"github.com/Masterminds/semver",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("cmd/parachute depends on %s; keep it in cmd/parachute-dist", dep)
			}
		}
	}
}
