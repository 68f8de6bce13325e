package release

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// FlakeFile is the flake, relative to the repository root.
const FlakeFile = "flake.nix"

// vendorHashRE finds the one pinned vendorHash in flake.nix.
var vendorHashRE = regexp.MustCompile(`(vendorHash\s*=\s*")(sha256-[A-Za-z0-9+/=]+)(";)`)

// VendorHash computes the vendorHash buildGoModule expects for the module in
// root: the NAR hash of the tree `go mod vendor` writes, which is what
// nixpkgs' goModules derivation does in its sandbox. An out-of-date go.sum
// fails here rather than in a Nix build.
func VendorHash(ctx context.Context, root string) (string, error) {
	tmp, err := os.MkdirTemp("", "parachute-vendor-")
	if err != nil {
		return "", fmt.Errorf("creating a vendor directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	vendor := filepath.Join(tmp, "vendor")
	cmd := exec.CommandContext(ctx, "go", "mod", "vendor", "-o", vendor)
	cmd.Dir = root
	cmd.Env = append(filterEnv(os.Environ(), "GOFLAGS", "GOWORK", "GOTOOLCHAIN"),
		"GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("running go mod vendor: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	if _, err := os.Stat(vendor); os.IsNotExist(err) {
		// No dependencies: nixpkgs then hashes an empty directory.
		if err := os.Mkdir(vendor, 0o755); err != nil {
			return "", fmt.Errorf("creating %s: %w", vendor, err)
		}
	}
	sum, err := NARHash(vendor)
	if err != nil {
		return "", err
	}
	return SRI(sum), nil
}

// FlakeVendorHash reads the vendorHash pinned in root's flake.nix.
func FlakeVendorHash(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, FlakeFile))
	if err != nil {
		return "", fmt.Errorf("reading the flake: %w", err)
	}
	m := vendorHashRE.FindAllSubmatch(data, -1)
	if len(m) != 1 {
		return "", fmt.Errorf("%s: want exactly one vendorHash = \"sha256-...\"; line, found %d", FlakeFile, len(m))
	}
	return string(m[0][2]), nil
}

// SetFlakeVendorHash rewrites the vendorHash line of root's flake.nix. It
// reports whether the file changed.
func SetFlakeVendorHash(root, hash string) (bool, error) {
	old, err := FlakeVendorHash(root)
	if err != nil {
		return false, err
	}
	if old == hash {
		return false, nil
	}
	p := filepath.Join(root, FlakeFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return false, fmt.Errorf("reading the flake: %w", err)
	}
	data = vendorHashRE.ReplaceAll(data, []byte("${1}"+hash+"${3}"))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return false, fmt.Errorf("writing the flake: %w", err)
	}
	return true, nil
}
