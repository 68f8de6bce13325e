package release

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"

	// The packagers register themselves with nfpm.
	_ "github.com/goreleaser/nfpm/v2/deb"
	_ "github.com/goreleaser/nfpm/v2/rpm"

	"github.com/openparachute/parachute/internal/unit"
)

// Package metadata shared by every artifact.
const (
	Name        = "parachute"
	Homepage    = "https://github.com/openparachute/parachute"
	Maintainer  = "Parachute maintainers <maintainers@parachute.computer>"
	Vendor      = "Parachute"
	Summary     = "Local hub and supervisor for Parachute modules"
	Description = `Local hub and supervisor for Parachute modules
parachute serve runs an HTTP hub on 127.0.0.1:1939 and supervises every
installed module (vault, scribe, channel, runner, surface and third-party
modules): it starts them, restarts crashed ones within a budget, captures
their logs and serves discovery and a module-operations API. The package
runs it as the parachute-hub systemd service, as the parachute user, with
its state in /var/lib/parachute.`
	// License is the package license field; empty until the project
	// publishes one (the deb's copyright file points at the source).
	License = ""
)

// PackagedBinary is where the deb and rpm install the binary (the
// packaged units' ExecStart).
const PackagedBinary = "/usr/bin/parachute"

// packageRelease is the packages' release (the deb's Debian revision, the
// rpm's Release).
const packageRelease = "1"

// Package formats.
const (
	FormatDeb = "deb"
	FormatRPM = "rpm"
)

// Content is one file of the deb and rpm, as the Go builder and
// goreleaser.yaml both list it. Src is a path relative to the repository
// root, or, for files rendered from the unit model, the path of the
// checked-in rendered copy.
type Content struct {
	Src, Dst string
	// Type is an nfpm content type ("" for a plain file).
	Type string
	Mode os.FileMode
	// Packager limits the file to one format ("" = both).
	Packager string
}

// PackageContents lists what the deb and rpm install, except the binary
// (/usr/bin/parachute, mode 0755).
func PackageContents() []Content {
	return []Content{
		{Src: "packaging/systemd/" + unit.SystemdName, Dst: unit.PackagedSystemUnitPath, Mode: 0o644},
		{Src: "packaging/systemd/user/" + unit.SystemdName, Dst: unit.PackagedUserUnitPath, Mode: 0o644},
		{Src: "packaging/sysusers.d/parachute.conf", Dst: "/usr/lib/sysusers.d/parachute.conf", Mode: 0o644},
		{Src: "packaging/completions/parachute.bash", Dst: "/usr/share/bash-completion/completions/parachute", Mode: 0o644},
		{Src: "packaging/completions/_parachute", Dst: "/usr/share/zsh/vendor-completions/_parachute", Mode: 0o644, Packager: FormatDeb},
		{Src: "packaging/completions/_parachute", Dst: "/usr/share/zsh/site-functions/_parachute", Mode: 0o644, Packager: FormatRPM},
		{Src: "packaging/completions/parachute.fish", Dst: "/usr/share/fish/vendor_completions.d/parachute.fish", Mode: 0o644},
		{Src: "packaging/deb/copyright", Dst: "/usr/share/doc/parachute/copyright", Mode: 0o644, Packager: FormatDeb},
		{Src: "packaging/deb/lintian-overrides", Dst: "/usr/share/lintian/overrides/parachute", Mode: 0o644, Packager: FormatDeb},
		{Src: "packaging/rpm/parachute.preset", Dst: "/usr/lib/systemd/system-preset/50-parachute.preset", Mode: 0o644, Packager: FormatRPM},
	}
}

// Maintainer scripts, relative to the repository root. nfpm maps the four
// slots to the deb's preinst/postinst/prerm/postrm and the rpm's
// %pre/%post/%preun/%postun.
var (
	debScripts = nfpm.Scripts{
		PostInstall: "packaging/deb/postinst",
		PreRemove:   "packaging/deb/prerm",
		PostRemove:  "packaging/deb/postrm",
	}
	rpmScripts = nfpm.Scripts{
		PreInstall:  "packaging/rpm/pre",
		PostInstall: "packaging/rpm/post",
		PreRemove:   "packaging/rpm/preun",
		PostRemove:  "packaging/rpm/postun",
	}
)

// renderedUnits are the unit files the packages ship, rendered now from
// the unit model: the checked-in copies under packaging/systemd are only
// what goreleaser reads, and CheckUnits proves they match.
func renderedUnits() (map[string][]byte, error) {
	arts, err := unit.Artifacts()
	if err != nil {
		return nil, fmt.Errorf("rendering the packaged units: %w", err)
	}
	out := map[string][]byte{}
	for _, a := range arts {
		out[a.Path] = a.Data
	}
	return out, nil
}

// CheckUnits reports whether the unit files checked in under
// packaging/systemd are what the unit model renders today.
func CheckUnits(root string) error {
	units, err := renderedUnits()
	if err != nil {
		return err
	}
	for _, c := range PackageContents() {
		want, ok := units[c.Src]
		if !ok {
			continue
		}
		got, err := os.ReadFile(filepath.Join(root, c.Src))
		if err != nil {
			return fmt.Errorf("reading the checked-in unit: %w", err)
		}
		if string(got) != string(want) {
			return fmt.Errorf("%s is stale: run `go generate ./internal/unit`", c.Src)
		}
	}
	return nil
}

// PackageRequest is one deb or rpm to build.
type PackageRequest struct {
	// Root is the repository root (scripts and static files come from it).
	Root string
	// Stage is a scratch directory for the rendered units.
	Stage string
	// Binary is the parachute binary built for Target.
	Binary string
	Target Target
	Stamp  Stamp
	// Format is FormatDeb or FormatRPM.
	Format string
}

// PackageFileName is the conventional name of the package:
// parachute_<ver>_<arch>.deb or parachute-<ver>.<arch>.rpm.
func PackageFileName(format string, s Stamp, t Target) string {
	if format == FormatRPM {
		return fmt.Sprintf("%s-%s.%s.rpm", Name, s.Version, t.RPMArch())
	}
	return fmt.Sprintf("%s_%s_%s.deb", Name, s.Version, t.DebArch())
}

// BuildPackage writes the package to out.
func BuildPackage(req PackageRequest, out string) error {
	info, err := packageInfo(req)
	if err != nil {
		return err
	}
	packager, err := nfpm.Get(req.Format)
	if err != nil {
		return fmt.Errorf("finding the %s packager: %w", req.Format, err)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("creating %s: %w", out, err)
	}
	if err := packager.Package(info, f); err != nil {
		f.Close()
		return fmt.Errorf("packaging %s: %w", filepath.Base(out), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

// packageInfo builds the nfpm description of one package. Every mtime is
// the stamp's time and every file is root-owned with an explicit mode, so
// the archive depends on nothing but the inputs.
func packageInfo(req PackageRequest) (*nfpm.Info, error) {
	if err := req.Stamp.Validate(); err != nil {
		return nil, fmt.Errorf("packaging: %w", err)
	}
	units, err := renderedUnits()
	if err != nil {
		return nil, err
	}
	mtime := req.Stamp.Time
	fi := func(mode os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: mtime}
	}
	contents := files.Contents{{
		Source: req.Binary, Destination: PackagedBinary, FileInfo: fi(0o755),
	}}
	for _, c := range PackageContents() {
		if c.Packager != "" && c.Packager != req.Format {
			continue
		}
		src := filepath.Join(req.Root, filepath.FromSlash(c.Src))
		if data, ok := units[c.Src]; ok {
			src = filepath.Join(req.Stage, filepath.FromSlash(c.Src))
			if err := writeFile(src, data, 0o644); err != nil {
				return nil, err
			}
		}
		contents = append(contents, &files.Content{
			Source: src, Destination: c.Dst, Type: c.Type, Packager: c.Packager, FileInfo: fi(c.Mode),
		})
	}
	scripts := debScripts
	if req.Format == FormatRPM {
		scripts = rpmScripts
	}
	for _, p := range []*string{&scripts.PreInstall, &scripts.PostInstall, &scripts.PreRemove, &scripts.PostRemove} {
		if *p != "" {
			*p = filepath.Join(req.Root, filepath.FromSlash(*p))
		}
	}

	changelog := filepath.Join(req.Stage, "changelog-"+req.Format+".yml")
	if err := writeFile(changelog, changelogYAML(req.Stamp), 0o644); err != nil {
		return nil, err
	}

	info := &nfpm.Info{
		Name:     Name,
		Arch:     req.Target.Arch,
		Platform: req.Target.OS,
		Version:  req.Stamp.Version,
		// Release 1 gives the deb a Debian revision, so the hyphen of a
		// pseudo-version (0.0.0-<time>-<sha>) stays in the upstream part.
		Release:     packageRelease,
		Changelog:   changelog,
		Section:     "net",
		Priority:    "optional",
		Maintainer:  Maintainer,
		Description: Description,
		Vendor:      Vendor,
		Homepage:    Homepage,
		License:     License,
		MTime:       mtime,
		// 022, not nfpm's 002: nothing in the package is group-writable.
		Overridables: nfpm.Overridables{
			Umask:    0o022,
			Contents: contents,
			Scripts:  scripts,
			RPM: nfpm.RPM{
				Summary: Summary,
				Group:   "System Environment/Daemons",
				// The build host lands in the rpm header; a fixed name
				// keeps two builds on two machines identical.
				BuildHost: "parachute-dist",
			},
		},
	}
	return nfpm.WithDefaults(info), nil
}

// changelogYAML is the one-entry changelog (chglog format) nfpm turns into
// the deb's changelog.Debian.gz and the rpm's %changelog: it points at the
// release notes, which live with the tag.
func changelogYAML(s Stamp) []byte {
	return []byte(fmt.Sprintf(`- semver: %q
  date: %q
  packager: %q
  deb:
    urgency: medium
    distributions: [stable]
  changes:
    - note: %q
    - note: %q
`, s.Version, s.Date(), Maintainer, "Upstream release "+s.Version+".", "Release notes: "+Homepage+"/releases"))
}

// writeFile creates the parent directories and writes data.
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
