package install

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/openparachute/parachute/internal/manifest"
)

// SourceKind says where a module is installed from.
type SourceKind string

// The kinds of source ParseSource recognises.
const (
	// SourceKnown is a first-party module by its short name, from npm.
	SourceKnown SourceKind = "known"
	// SourceDir is a local directory, used in place like a linked checkout.
	SourceDir SourceKind = "dir"
	// SourceTarball is a local npm tarball (.tgz), installed globally.
	SourceTarball SourceKind = "tarball"
	// SourceRegistry is an npm package spec ("name", "name@1.2.3", "@scope/name@rc").
	SourceRegistry SourceKind = "registry"
)

// Channels a module can be installed from.
const (
	ChannelLatest = "latest"
	ChannelRC     = "rc"
)

// Source is a parsed install argument.
type Source struct {
	Kind SourceKind
	// Arg is the argument as given.
	Arg string
	// Known is the first-party module, when the source names one (by
	// short name, or by its npm package).
	Known *manifest.Known
	// Path is the absolute path of a directory or tarball.
	Path string
	// Package is the npm package name, when known before installing.
	Package string
	// Spec is what the package manager installs: "name@tag" or a tarball path.
	Spec string
	// Version is the version about to be installed, when it can be known
	// before installing ("" otherwise).
	Version string
	// Module is the module.json read before installing (dir, tarball).
	Module *manifest.Module
	// Notes are remarks for the operator (a renamed module).
	Notes []string
	// ChannelDefaulted reports that no version, tag or channel was given
	// (not even a default), so an install over an existing module follows
	// that module's channel.
	ChannelDefaulted bool
}

// SourceOptions refine ParseSource.
type SourceOptions struct {
	// Channel is "rc" or "latest" ("" when not given).
	Channel string
	// Tag is a dist-tag or exact version; it wins over Channel.
	Tag string
	// DefaultChannel applies when neither Tag nor Channel nor the spec
	// names a version (PARACHUTE_INSTALL_CHANNEL, else "latest").
	DefaultChannel string
}

// aliases are old short names and what replaced them.
var aliases = map[string]string{"lens": "notes"}

// CheckChannel validates a --channel value ("" is allowed: not given).
func CheckChannel(ch string) error {
	switch ch {
	case "", ChannelLatest, ChannelRC:
		return nil
	}
	return fmt.Errorf("--channel must be %q or %q (got %q)", ChannelRC, ChannelLatest, ch)
}

// ParseSource decides what arg names: a first-party short ("vault",
// "vault@1.2.3"), a local directory or .tgz (an absolute path, or one
// starting with "./" or "../"), or an npm spec. A directory or tarball is
// read right away, so a missing or malformed .parachute/module.json is
// reported before anything is installed.
func ParseSource(arg string, o SourceOptions) (Source, error) {
	if err := CheckChannel(o.Channel); err != nil {
		return Source{}, err
	}
	src := Source{Arg: arg}
	if arg == "" {
		return src, errors.New("nothing to install: name a module (e.g. vault), a directory, a .tgz or an npm package")
	}
	if isPathArg(arg) {
		return parsePath(src, arg)
	}
	name, version := splitSpec(arg)
	if to, ok := aliases[name]; ok {
		src.Notes = append(src.Notes, fmt.Sprintf("%q has been renamed to %q; installing %s.", name, to, to))
		name = to
	}
	if k, ok := manifest.KnownByShort(name); ok {
		src.Kind, src.Known, src.Package = SourceKnown, &k, k.Package
	} else if CheckPackageName(name) == nil {
		src.Kind, src.Package = SourceRegistry, name
		if k, ok := knownByPackage(name); ok {
			src.Known = &k
		}
	} else {
		return src, fmt.Errorf("unknown module %q: not a first-party module (%s), not a path (start it with / or ./), and not an npm package name",
			arg, strings.Join(knownShorts(), ", "))
	}
	tag := firstNonEmpty(version, o.Tag, o.Channel, o.DefaultChannel, ChannelLatest)
	src.ChannelDefaulted = version == "" && o.Tag == "" && o.Channel == "" && o.DefaultChannel == ""
	src.Spec = src.Package + "@" + tag
	if isExactVersion(tag) {
		src.Version = strings.TrimPrefix(tag, "v")
	}
	return src, nil
}

// isPathArg reports whether arg is meant as a file system path.
func isPathArg(arg string) bool {
	return filepath.IsAbs(arg) || arg == "." || arg == ".." ||
		strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "../")
}

func parsePath(src Source, arg string) (Source, error) {
	abs, err := filepath.Abs(arg)
	if err != nil {
		return src, fmt.Errorf("resolving %s: %w", arg, err)
	}
	src.Path = abs
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return src, fmt.Errorf("%s does not exist", abs)
	}
	if err != nil {
		return src, fmt.Errorf("reading %s: %w", abs, err)
	}
	if fi.IsDir() {
		src.Kind = SourceDir
		pkg, _ := readPackageJSON(abs)
		src.Package = pkg.Name
		if k, ok := knownByPackage(pkg.Name); ok {
			src.Known = &k
		}
		m, err := manifest.LoadModule(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist) && src.Known != nil:
		case errors.Is(err, fs.ErrNotExist):
			return src, fmt.Errorf("%s has no .parachute/module.json — not a Parachute module (see https://parachute.computer/docs/modules for what a module ships)", abs)
		case err != nil:
			return src, err
		}
		src.Module = m
		src.Version = versionOf(pkg, m)
		return src, nil
	}
	if !strings.HasSuffix(abs, ".tgz") && !strings.HasSuffix(abs, ".tar.gz") {
		return src, fmt.Errorf("%s is neither a directory nor an npm tarball (.tgz)", abs)
	}
	src.Kind, src.Spec = SourceTarball, abs
	pkg, m, err := peekTarball(abs)
	if err != nil {
		return src, err
	}
	src.Package = pkg.Name
	if k, ok := knownByPackage(pkg.Name); ok {
		src.Known = &k
	}
	if m == nil && src.Known == nil {
		return src, fmt.Errorf("%s has no .parachute/module.json — not a Parachute module", abs)
	}
	src.Module = m
	src.Version = versionOf(pkg, m)
	return src, nil
}

// splitSpec splits "name@version" (the scope's leading "@" is part of the name).
func splitSpec(spec string) (name, version string) {
	if i := strings.LastIndex(spec, "@"); i > 0 {
		return spec[:i], spec[i+1:]
	}
	return spec, ""
}

// packageJSON is the part of package.json the installer reads.
type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// readPackageJSON reads <dir>/package.json; a missing file is a zero value
// and an error wrapping fs.ErrNotExist.
func readPackageJSON(dir string) (packageJSON, error) {
	var p packageJSON
	path := filepath.Join(dir, "package.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return packageJSON{}, fmt.Errorf("reading %s: %w", path, err)
	}
	return p, nil
}

// versionOf is the installed package's version, else module.json's
// "version", else "".
func versionOf(p packageJSON, m *manifest.Module) string {
	if p.Version != "" {
		return p.Version
	}
	if m != nil {
		var v string
		if raw, ok := m.Extra["version"]; ok && json.Unmarshal(raw, &v) == nil {
			return v
		}
	}
	return ""
}

// maxPeekBytes caps what peekTarball reads of one member: package.json
// and module.json are small, and a hostile tarball must not exhaust memory.
const maxPeekBytes = 1 << 20

// peekTarball reads package.json and .parachute/module.json from an npm
// tarball without extracting it. npm packs everything under one top-level
// folder ("package/"), whatever its name. The package name must pass
// CheckPackageName: it becomes a directory name when installing.
func peekTarball(path string) (packageJSON, *manifest.Module, error) {
	f, err := os.Open(path)
	if err != nil {
		return packageJSON{}, nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	return readTarball(f, path)
}

// readTarball is peekTarball on an open tarball; path names it in errors.
func readTarball(r io.Reader, path string) (packageJSON, *manifest.Module, error) {
	var pkg packageJSON
	gz, err := gzip.NewReader(r)
	if err != nil {
		return pkg, nil, fmt.Errorf("reading %s: not a gzip tarball: %w", path, err)
	}
	tr := tar.NewReader(gz)
	var modData []byte
	sawPkg := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return pkg, nil, fmt.Errorf("reading %s: %w", path, err)
		}
		_, rel, ok := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/")
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		switch rel {
		case "package.json":
			b, err := io.ReadAll(io.LimitReader(tr, maxPeekBytes))
			if err != nil {
				return pkg, nil, fmt.Errorf("reading package.json in %s: %w", path, err)
			}
			if err := json.Unmarshal(b, &pkg); err != nil {
				return pkg, nil, fmt.Errorf("%s: package.json is not valid JSON: %w", path, err)
			}
			sawPkg = true
		case ".parachute/module.json":
			if modData, err = io.ReadAll(io.LimitReader(tr, maxPeekBytes)); err != nil {
				return pkg, nil, fmt.Errorf("reading .parachute/module.json in %s: %w", path, err)
			}
		}
	}
	if !sawPkg || pkg.Name == "" {
		return pkg, nil, fmt.Errorf("%s has no package.json with a name — not an npm package tarball", path)
	}
	if err := CheckPackageName(pkg.Name); err != nil {
		return pkg, nil, fmt.Errorf("%s: package.json: %w", path, err)
	}
	if modData == nil {
		return pkg, nil, nil
	}
	m, err := manifest.ParseModule(modData, path+"!package/.parachute/module.json")
	if err != nil {
		return pkg, nil, err
	}
	return pkg, m, nil
}

func knownByPackage(pkg string) (manifest.Known, bool) {
	for _, k := range manifest.KnownModules() {
		if k.Package == pkg {
			return k, true
		}
	}
	return manifest.Known{}, false
}

func knownShorts() []string {
	var out []string
	for _, k := range manifest.KnownModules() {
		out = append(out, k.Short)
	}
	return out
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
