package release

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Module is the Go module path of the repository.
const Module = "github.com/openparachute/parachute"

// Target is one platform the release is built for.
type Target struct {
	OS, Arch string // GOOS and GOARCH
}

func (t Target) String() string { return t.OS + "/" + t.Arch }

// DebArch is the Debian architecture name.
func (t Target) DebArch() string { return t.Arch } // amd64, arm64 coincide with GOARCH

// RPMArch is the RPM architecture name.
func (t Target) RPMArch() string {
	switch t.Arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return t.Arch
}

// OCIArch is the architecture in an OCI platform (the GOARCH spelling).
func (t Target) OCIArch() string { return t.Arch }

// Targets of a full release: Linux for the packages and the image, macOS
// for the Homebrew formula.
var (
	LinuxTargets  = []Target{{"linux", "amd64"}, {"linux", "arm64"}}
	DarwinTargets = []Target{{"darwin", "amd64"}, {"darwin", "arm64"}}
	AllTargets    = append(append([]Target{}, LinuxTargets...), DarwinTargets...)
)

// ParseTargets reads "linux/amd64,darwin/arm64".
func ParseTargets(s string) ([]Target, error) {
	var out []Target
	for _, f := range strings.Split(s, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(f), "/")
		if !ok || goos == "" || goarch == "" {
			return nil, fmt.Errorf("target %q is not GOOS/GOARCH", f)
		}
		out = append(out, Target{goos, goarch})
	}
	return out, nil
}

// BuildTags are the build tags of every release binary. urfave_cli_no_docs
// leaves out urfave/cli's man-page and markdown generators (and their
// markdown library), which nothing calls at run time and whose package
// initialisation costs every invocation a few milliseconds.
const BuildTags = "urfave_cli_no_docs"

// BuildBinary compiles ./cmd/parachute of the module in root for t into out:
// static (CGO_ENABLED=0), -trimpath, no VCS stamp and no build id, stripped,
// with the version, commit and date of s in internal/buildinfo.
//
// The environment is pinned rather than inherited wherever it changes the
// output (GOFLAGS, GOAMD64, GOARM64, GOEXPERIMENT, GOWORK): the same commit
// must give the same bytes on any machine with the same Go release.
func BuildBinary(ctx context.Context, root string, t Target, s Stamp, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(out), err)
	}
	pkg := Module + "/internal/buildinfo"
	ldflags := strings.Join([]string{
		"-s", "-w", "-buildid=",
		"-X", pkg + ".Version=" + s.Version,
		"-X", pkg + ".Commit=" + s.Commit,
		"-X", pkg + ".Date=" + s.Date(),
	}, " ")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", BuildTags,
		"-ldflags", ldflags, "-o", out, "./cmd/parachute")
	cmd.Dir = root
	cmd.Env = append(filterEnv(os.Environ(), "GOFLAGS", "GOOS", "GOARCH", "CGO_ENABLED",
		"GOAMD64", "GOARM64", "GOARM", "GOEXPERIMENT", "GOWORK", "GOTOOLCHAIN"),
		"GOOS="+t.OS, "GOARCH="+t.Arch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly",
		"GOAMD64=v1", "GOARM64=v8.0", "GOWORK=off", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building parachute for %s: %w\n%s", t, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// filterEnv drops the named variables from env.
func filterEnv(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
