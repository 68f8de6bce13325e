package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoPackageManager means neither bun nor npm is installed.
var ErrNoPackageManager = errors.New("neither bun nor npm is installed")

// pkgManager is a JavaScript package manager that installs global packages.
type pkgManager struct {
	// name is "bun" or "npm".
	name string
	// bin is the program's path.
	bin string
	// root is the global node_modules directory: <pkg> installs into
	// <root>/<pkg>.
	root string
}

func (m pkgManager) addCmd(spec string) Cmd {
	if m.name == "bun" {
		return Cmd{Name: m.bin, Args: []string{"add", "-g", spec}}
	}
	return Cmd{Name: m.bin, Args: []string{"install", "-g", "--no-fund", "--no-audit", spec}}
}

func (m pkgManager) removeCmd(pkg string) Cmd {
	if m.name == "bun" {
		return Cmd{Name: m.bin, Args: []string{"remove", "-g", pkg}}
	}
	return Cmd{Name: m.bin, Args: []string{"uninstall", "-g", "--no-fund", "--no-audit", pkg}}
}

// dir is where pkg lives (or will live) under this manager.
// Callers check pkg with CheckPackageName and the result with checkInside
// before touching the disk.
func (m pkgManager) dir(pkg string) string { return filepath.Join(m.root, filepath.FromSlash(pkg)) }

// owns reports whether dir is inside this manager's global root, comparing
// real paths so a symlinked prefix still matches (and "/a/b" never matches
// "/a/bc").
func (m pkgManager) owns(dir string) bool {
	return within(realpath(m.root), realpath(dir))
}

// managers finds the package managers on this host, bun first. Both use
// the same detection of their global prefix: bun's is $BUN_INSTALL (else
// ~/.bun)/install/global/node_modules, npm's is what `npm root -g` says,
// which honours NPM_CONFIG_PREFIX and the prefix in .npmrc.
func (in *Installer) managers(ctx context.Context) []pkgManager {
	in.pmOnce.Do(func() {
		if bun := in.findBun(); bun != "" && in.onlyPM != "npm" {
			in.pms = append(in.pms, pkgManager{name: "bun", bin: bun, root: in.bunRoot()})
		}
		if npm, err := in.lookPath("npm"); err == nil && in.onlyPM != "bun" {
			out, err := in.run(ctx, Cmd{Name: npm, Args: []string{"root", "-g"}})
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if root := strings.TrimSpace(lines[len(lines)-1]); err == nil && filepath.IsAbs(root) {
				in.pms = append(in.pms, pkgManager{name: "npm", bin: npm, root: root})
			} else {
				in.rep.Warn(fmt.Sprintf("npm is installed but `npm root -g` failed, so npm is not used: %v", err))
			}
		}
	})
	return in.pms
}

// bunInstall is $BUN_INSTALL, else ~/.bun.
func (in *Installer) bunInstall() string {
	if v := in.getenv("BUN_INSTALL"); v != "" {
		return v
	}
	home := in.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".bun")
}

func (in *Installer) bunRoot() string {
	return filepath.Join(in.bunInstall(), "install", "global", "node_modules")
}

// findBun prefers $BUN_INSTALL/bin/bun (where bun's installer puts it),
// then bun on PATH.
func (in *Installer) findBun() string {
	p := filepath.Join(in.bunInstall(), "bin", "bun")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	if p, err := in.lookPath("bun"); err == nil {
		return p
	}
	return ""
}

// preferred is the manager new packages go to: bun when present, else npm.
func (in *Installer) preferred(ctx context.Context) (pkgManager, error) {
	pms := in.managers(ctx)
	if len(pms) == 0 {
		return pkgManager{}, fmt.Errorf("%w: install bun (https://bun.sh) or Node.js with npm, then re-run", ErrNoPackageManager)
	}
	return pms[0], nil
}

// owner is the manager whose global root holds dir.
func (in *Installer) owner(ctx context.Context, dir string) (pkgManager, bool) {
	if dir == "" {
		return pkgManager{}, false
	}
	for _, m := range in.managers(ctx) {
		if m.owns(dir) {
			return m, true
		}
	}
	return pkgManager{}, false
}

// locate finds an installed global package under any manager.
func (in *Installer) locate(ctx context.Context, pkg string) (string, bool) {
	for _, m := range in.managers(ctx) {
		d := m.dir(pkg)
		if _, err := os.Stat(filepath.Join(d, "package.json")); err == nil {
			return d, true
		}
	}
	return "", false
}

// lookPath finds a program on the PATH of the installer's environment
// (which may differ from this process's, e.g. a test's temp prefix).
func (in *Installer) lookPath(name string) (string, error) {
	return lookPathIn(in.environ(), name)
}

// npmView asks the registry which version spec resolves to. It is best
// effort: without npm or network the answer is "" and version guards are
// applied after installing instead.
func (in *Installer) npmView(ctx context.Context, spec string) string {
	npm, err := in.lookPath("npm")
	if err != nil {
		return ""
	}
	out, err := in.run(ctx, Cmd{Name: npm, Args: []string{"view", spec, "version"}})
	if err != nil {
		return ""
	}
	// A range matching several versions prints one line per version; the
	// last is the highest.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	v := strings.TrimSpace(lines[len(lines)-1])
	if i := strings.LastIndex(v, " "); i >= 0 {
		v = strings.Trim(v[i+1:], "'")
	}
	if _, ok := parseVersion(v); !ok {
		return ""
	}
	return v
}
