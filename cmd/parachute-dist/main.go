// Command parachute-dist builds the release artifacts of parachute (what
// `make dist` runs) and maintains the files derived from the source:
//
//	parachute-dist [dist] [-out dist] [-targets linux/amd64,...] [-version V]
//	parachute-dist vendor-hash [-update]   check (or fix) flake.nix's vendorHash
//	parachute-dist gen                     regenerate packaging/nix/unit.nix
//
// Run it from the repository root (or pass -root).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/openparachute/parachute/internal/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "dist"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "dist":
		err = dist(ctx, args, stdout, stderr)
	case "vendor-hash":
		err = vendorHash(ctx, args, stdout, stderr)
	case "gen":
		err = gen(args, stderr)
	default:
		err = fmt.Errorf("unknown command %q (want dist, vendor-hash or gen)", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "parachute-dist %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func dist(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repository root")
	out := fs.String("out", "dist", "output directory (emptied first)")
	targets := fs.String("targets", "", "comma-separated GOOS/GOARCH list (default: linux and darwin, amd64 and arm64)")
	version := fs.String("version", "", "release version (default: from git describe)")
	base := fs.String("download-base", "", "where the formula downloads tarballs from (default: the GitHub release)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stamp, err := release.StampFromGit(ctx, *root)
	if err != nil {
		return err
	}
	if *version != "" {
		stamp.Version = strings.TrimPrefix(*version, "v")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if dirty, err := release.Dirty(ctx, *root); err == nil && dirty {
		// The stamp names the commit, but the build reads the working tree.
		log.Warn("the working tree has uncommitted changes: the artifacts are not those of the commit they name", "commit", stamp.Commit)
	}
	opts := release.Options{Root: *root, Out: *out, Stamp: stamp, DownloadBase: *base, Logger: log}
	if *targets != "" {
		if opts.Targets, err = release.ParseTargets(*targets); err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := release.Build(ctx, opts)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(res.Checksums))
	for n := range res.Checksums {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "parachute %s (%s, %s) in %s/ in %s:\n", stamp.Version, stamp.Commit[:12],
		stamp.Date(), *out, time.Since(start).Round(time.Second))
	for _, n := range names {
		fmt.Fprintf(stdout, "  %s\n", n)
	}
	return nil
}

func vendorHash(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vendor-hash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repository root")
	update := fs.Bool("update", false, "write the computed hash into flake.nix")
	if err := fs.Parse(args); err != nil {
		return err
	}
	want, err := release.VendorHash(ctx, *root)
	if err != nil {
		return err
	}
	if *update {
		changed, err := release.SetFlakeVendorHash(*root, want)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s vendorHash = %s (changed: %v)\n", release.FlakeFile, want, changed)
		return nil
	}
	got, err := release.FlakeVendorHash(*root)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s pins vendorHash %s, but go mod vendor hashes to %s: run `make nix-hash`", release.FlakeFile, got, want)
	}
	fmt.Fprintf(stdout, "%s vendorHash %s is current\n", release.FlakeFile, want)
	return nil
}

func gen(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repository root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return release.WriteGenerated(*root)
}
