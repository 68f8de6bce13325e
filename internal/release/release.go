// Package release builds the release artifacts of parachute from one
// commit: static binaries, tarballs, deb and rpm packages (nfpm as a
// library), a multi-arch OCI image layout (go-containerregistry, no base
// image), the Homebrew formula and SHA256SUMS. It also keeps the Nix flake's
// vendorHash honest (VendorHash, a Go NAR hasher) and renders the NixOS
// service from the unit model (RenderNixUnit).
//
// Everything is reproducible: every timestamp inside every artifact is the
// commit time (or SOURCE_DATE_EPOCH), every owner is fixed, every listing
// is sorted, so two builds of one commit are byte-identical.
//
// `make dist` runs it through cmd/parachute-dist; goreleaser.yaml describes
// the same release for goreleaser, from the same contents and scripts.
package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Options says what to build and where.
type Options struct {
	// Root is the repository root.
	Root string
	// Out is the output directory; it is emptied first.
	Out string
	// Stamp is the version, commit and time to build.
	Stamp Stamp
	// Targets are the platforms; nil means AllTargets. Packages and the
	// image are built for the Linux ones, the formula only when every
	// platform it names is there.
	Targets []Target
	// DownloadBase is where the formula downloads tarballs from; "" means
	// DefaultDownloadBase.
	DownloadBase string
	// CABundle is the CA bundle for the image; "" means the host's.
	CABundle string
	// Logger reports progress; nil discards it.
	Logger *slog.Logger
}

// Result lists what Build wrote, as paths under Options.Out.
type Result struct {
	Binaries    map[Target]string
	Archives    map[Target]string
	Packages    []string
	ImageDir    string
	ImageDigest v1.Hash
	// Formula is "" when the targets did not cover every platform of the
	// formula.
	Formula string
	// Checksums maps every file SHA256SUMS lists (relative, slash-separated)
	// to its SHA-256.
	Checksums map[string]string
}

// Build writes the release into opts.Out.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.Stamp.Validate(); err != nil {
		return nil, fmt.Errorf("building the release: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	targets := opts.Targets
	if targets == nil {
		targets = AllTargets
	}
	if err := resetDir(opts.Root, opts.Out); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp("", "parachute-dist-stage-")
	if err != nil {
		return nil, fmt.Errorf("creating a staging directory: %w", err)
	}
	defer os.RemoveAll(stage)

	res := &Result{Binaries: map[Target]string{}, Archives: map[Target]string{}}
	var linux []Target
	for _, t := range targets {
		bin := filepath.Join(opts.Out, fmt.Sprintf("%s_%s_%s", Name, t.OS, t.Arch), Name)
		log.Info("building the binary", "target", t.String(), "version", opts.Stamp.Version)
		if err := BuildBinary(ctx, opts.Root, t, opts.Stamp, bin); err != nil {
			return nil, err
		}
		res.Binaries[t] = bin
		archive := filepath.Join(opts.Out, ArchiveName(opts.Stamp, t))
		if err := BuildArchive(opts.Root, bin, opts.Stamp, archive); err != nil {
			return nil, err
		}
		res.Archives[t] = archive
		if t.OS == "linux" {
			linux = append(linux, t)
		}
	}

	for _, t := range linux {
		for _, format := range []string{FormatDeb, FormatRPM} {
			out := filepath.Join(opts.Out, PackageFileName(format, opts.Stamp, t))
			log.Info("packaging", "format", format, "target", t.String())
			req := PackageRequest{Root: opts.Root, Stage: stage, Binary: res.Binaries[t],
				Target: t, Stamp: opts.Stamp, Format: format}
			if err := BuildPackage(req, out); err != nil {
				return nil, err
			}
			res.Packages = append(res.Packages, out)
		}
	}

	if len(linux) > 0 {
		res.ImageDir = filepath.Join(opts.Out, "oci")
		log.Info("building the OCI image", "platforms", len(linux))
		res.ImageDigest, err = BuildImage(ImageRequest{Binaries: res.Binaries, Targets: linux,
			Stamp: opts.Stamp, CABundle: opts.CABundle}, res.ImageDir)
		if err != nil {
			return nil, err
		}
	}

	if res.Checksums, err = WriteChecksums(opts.Out); err != nil {
		return nil, err
	}
	if coversFormula(targets) {
		in, err := NewFormulaInput(opts.Stamp, FormulaTargets, res.Checksums, opts.DownloadBase)
		if err != nil {
			return nil, err
		}
		rb, err := RenderFormula(opts.Root, in)
		if err != nil {
			return nil, err
		}
		res.Formula = filepath.Join(opts.Out, "homebrew", "parachute.rb")
		if err := writeFile(res.Formula, rb, 0o644); err != nil {
			return nil, err
		}
		// The formula is itself a release file: list it too.
		if res.Checksums, err = WriteChecksums(opts.Out); err != nil {
			return nil, err
		}
	}
	log.Info("release written", "dir", opts.Out, "files", len(res.Checksums))
	return res, nil
}

// FormulaTargets are the platforms the Homebrew formula downloads.
var FormulaTargets = AllTargets

func coversFormula(targets []Target) bool {
	have := map[Target]bool{}
	for _, t := range targets {
		have[t] = true
	}
	for _, t := range FormulaTargets {
		if !have[t] {
			return false
		}
	}
	return true
}

// resetDir empties out (creating it), refusing paths whose loss would hurt:
// the repository root or anything above it.
func resetDir(root, out string) error {
	if out == "" {
		return errors.New("no output directory given")
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", out, err)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", root, err)
	}
	// root inside out (or equal to it): emptying out would delete root.
	if rel, err := filepath.Rel(absOut, absRoot); err == nil && !startsWithDotDot(rel) {
		return fmt.Errorf("refusing to empty %s: it holds the repository", out)
	}
	if err := os.RemoveAll(absOut); err != nil {
		return fmt.Errorf("emptying %s: %w", out, err)
	}
	if err := os.MkdirAll(absOut, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	return nil
}

func startsWithDotDot(rel string) bool {
	return rel == ".." || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator)
}
