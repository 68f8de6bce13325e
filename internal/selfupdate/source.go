package selfupdate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/config"
)

// Kind says how this binary was installed.
type Kind string

// The install sources Detect tells apart.
const (
	KindStandalone Kind = "standalone" // a binary parachute may replace itself
	KindDeb        Kind = "deb"        // owned by a dpkg package
	KindRPM        Kind = "rpm"        // owned by an rpm package
	KindHomebrew   Kind = "homebrew"   // in a Homebrew Cellar
	KindNix        Kind = "nix"        // in the Nix store
	KindContainer  Kind = "container"  // baked into a container image
)

// Source is how the running binary was installed and what upgrades it.
type Source struct {
	Kind Kind `json:"kind"`
	// Path is the executable, symlinks resolved: the file a standalone
	// upgrade replaces.
	Path string `json:"path"`
	// Package is the owning package or formula, for packaged kinds.
	Package string `json:"package,omitempty"`
	// Command is what the operator runs to upgrade a packaged install.
	Command string `json:"command,omitempty"`
}

// Packaged reports whether a package manager owns the binary: parachute
// must then never rewrite it behind that manager's back.
func (s Source) Packaged() bool {
	switch s.Kind {
	case KindDeb, KindRPM, KindHomebrew, KindNix:
		return true
	}
	return false
}

// Host is what Detect looks at. HostDefaults describes this process;
// tests replace fields to fake a Cellar path, a Nix store or dpkg.
type Host struct {
	// Executable is the running binary's path (os.Executable).
	Executable func() (string, error)
	// EvalSymlinks resolves symlinks (filepath.EvalSymlinks).
	EvalSymlinks func(string) (string, error)
	// Getenv reads PARACHUTE_HOME.
	Getenv func(string) string
	// Exists reports whether a path exists (container markers).
	Exists func(string) bool
	// LookPath finds dpkg-query and rpm.
	LookPath func(string) (string, error)
	// Output runs a query program and returns its stdout and exit code;
	// err only when it could not run.
	Output func(ctx context.Context, name string, args ...string) (string, int, error)
}

// HostDefaults is the Host of this process.
func HostDefaults() Host {
	return Host{
		Executable:   os.Executable,
		EvalSymlinks: filepath.EvalSymlinks,
		Getenv:       os.Getenv,
		Exists:       func(p string) bool { _, err := os.Stat(p); return err == nil },
		LookPath:     exec.LookPath,
		Output: func(ctx context.Context, name string, args ...string) (string, int, error) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, name, args...).Output()
			if ee, ok := err.(*exec.ExitError); ok {
				return string(out), ee.ExitCode(), nil
			}
			if err != nil {
				return "", -1, err
			}
			return string(out), 0, nil
		},
	}
}

// Detect finds how the running binary was installed, in this order: a
// container image (PARACHUTE_HOME=/parachute, /.dockerenv or
// /run/.containerenv), a Homebrew Cellar path, the Nix store, a file dpkg
// owns, a file rpm owns, else a standalone binary.
func Detect(ctx context.Context, h Host) (Source, error) {
	exe, err := h.Executable()
	if err != nil {
		return Source{}, fmt.Errorf("finding the running binary: %w", err)
	}
	real := exe
	if r, err := h.EvalSymlinks(exe); err == nil {
		real = r
	}
	src := Source{Path: real}
	if h.Getenv("PARACHUTE_HOME") == config.ContainerHome || h.Exists("/.dockerenv") || h.Exists("/run/.containerenv") {
		src.Kind = KindContainer
		return src, nil
	}
	if i := strings.Index(real, "/Cellar/"); i >= 0 {
		formula, _, _ := strings.Cut(real[i+len("/Cellar/"):], "/")
		src.Kind, src.Package = KindHomebrew, formula
		src.Command = fmt.Sprintf("brew upgrade %s && brew services restart %s", formula, formula)
		return src, nil
	}
	if strings.HasPrefix(real, "/nix/store/") {
		src.Kind = KindNix
		src.Command = "update the flake input that provides parachute, then `sudo nixos-rebuild switch` (NixOS module) or `nix profile upgrade parachute`"
		return src, nil
	}
	candidates := uniq(exe, real)
	if pkg := dpkgOwner(ctx, h, candidates); pkg != "" {
		src.Kind, src.Package = KindDeb, pkg
		src.Command = fmt.Sprintf("sudo apt-get update && sudo apt-get install --only-upgrade %s", pkg)
		return src, nil
	}
	if pkg := rpmOwner(ctx, h, candidates); pkg != "" {
		src.Kind, src.Package = KindRPM, pkg
		src.Command = fmt.Sprintf("sudo dnf upgrade %s   (or: sudo zypper update %s)", pkg, pkg)
		return src, nil
	}
	src.Kind = KindStandalone
	return src, nil
}

// dpkgOwner asks dpkg which package owns one of paths. `dpkg-query -S`
// prints "pkg[, pkg2]: /path"; the path must match exactly, because dpkg
// treats its argument as a pattern and could match a longer name.
func dpkgOwner(ctx context.Context, h Host, paths []string) string {
	bin, err := h.LookPath("dpkg-query")
	if err != nil {
		return ""
	}
	for _, p := range usrMerged(paths) {
		out, code, err := h.Output(ctx, bin, "-S", p)
		if err != nil || code != 0 {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			pkgs, path, ok := strings.Cut(line, ": ")
			if ok && strings.TrimSpace(path) == p {
				first, _, _ := strings.Cut(pkgs, ",")
				return strings.TrimSpace(first)
			}
		}
	}
	return ""
}

// rpmOwner asks rpm which package owns one of paths.
func rpmOwner(ctx context.Context, h Host, paths []string) string {
	bin, err := h.LookPath("rpm")
	if err != nil {
		return ""
	}
	for _, p := range paths {
		out, code, err := h.Output(ctx, bin, "-qf", "--queryformat", "%{NAME}", p)
		if err == nil && code == 0 && strings.TrimSpace(out) != "" && !strings.Contains(out, " ") {
			return strings.TrimSpace(out)
		}
	}
	return ""
}

// usrMerged adds the /bin ↔ /usr/bin twin of each path: on a merged-/usr
// system dpkg may have recorded either.
func usrMerged(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, p)
		switch {
		case strings.HasPrefix(p, "/usr/bin/"), strings.HasPrefix(p, "/usr/sbin/"):
			out = append(out, strings.TrimPrefix(p, "/usr"))
		case strings.HasPrefix(p, "/bin/"), strings.HasPrefix(p, "/sbin/"):
			out = append(out, "/usr"+p)
		}
	}
	return uniq(out...)
}

func uniq(xs ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
