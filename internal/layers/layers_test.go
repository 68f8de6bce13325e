package layers

import (
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const mod = "github.com/openparachute/parachute/internal/"

// pkg is the part of `go list -json` this test reads.
type pkg struct {
	ImportPath string
	Deps       []string // transitive, non-test
}

// listInternal runs `go list -json ./internal/...` from the module root.
// Only stdout is parsed: on a fresh machine stderr says "go: downloading …".
func listInternal(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./internal/...")
	cmd.Dir = "../.."
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, mod)] = p
	}
	return pkgs
}

// TestLayering states the allowed imports between internal packages:
//   - api (the wire shapes) and hubclient (the CLI's client) never pull in
//     the hub's runtime: supervisor, hub, install, logsink. A CLI verb that
//     only talks to the hub must not link the supervisor.
//   - nothing under internal/ imports cli: the CLI is the top layer, and
//     only cmd/parachute wires it up.
func TestLayering(t *testing.T) {
	pkgs := listInternal(t)
	for _, must := range []string{"api", "hubclient", "cli", "hub"} {
		if _, ok := pkgs[must]; !ok {
			t.Fatalf("go list did not report internal/%s; the test is out of date", must)
		}
	}
	forbidden := map[string][]string{
		"api":       {"supervisor", "hub", "install", "logsink"},
		"hubclient": {"supervisor", "hub", "install", "logsink"},
	}
	for name, p := range pkgs {
		for _, dep := range p.Deps {
			d, ok := strings.CutPrefix(dep, mod)
			if !ok {
				continue
			}
			for _, f := range forbidden[name] {
				if d == f {
					t.Errorf("internal/%s depends on internal/%s; convert at the hub boundary instead (internal/hub/apistate.go)", name, f)
				}
			}
			if d == "cli" && name != "cli" {
				t.Errorf("internal/%s depends on internal/cli; only cmd/parachute may import the CLI", name)
			}
		}
	}
}

// TestCLIImportsHubOnlyToServe keeps the CLI a client of the hub: the only
// CLI file that may import internal/hub is the one that runs `parachute
// serve` in this process. Everything else goes through hubclient and the
// shapes in internal/api.
func TestCLIImportsHubOnlyToServe(t *testing.T) {
	files, err := filepath.Glob("../cli/*.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in internal/cli; the test is out of date")
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == mod+"hub" && filepath.Base(f) != "serve.go" {
				t.Errorf("%s imports internal/hub; only serve.go may (use internal/api for shapes, hubclient to talk to the hub)", filepath.Base(f))
			}
		}
	}
}
