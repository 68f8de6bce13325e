package release

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/testenv"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// goreleaserConfig is the part of goreleaser.yaml the tests compare with the
// Go builder.
type goreleaserConfig struct {
	Builds []struct {
		Main, Binary string
		Env          []string
		Goos, Goarch []string
		Flags        []string
		Ldflags      []string
	}
	Archives []struct {
		NameTemplate string `yaml:"name_template"`
		Files        []struct{ Src, Dst string }
	}
	Nfpms []struct {
		PackageName string `yaml:"package_name"`
		Release     string
		Formats     []string
		Vendor      string
		Homepage    string
		Maintainer  string
		Description string
		Section     string
		Bindir      string
		Contents    []struct {
			Src, Dst, Type, Packager string
			FileInfo                 struct{ Mode os.FileMode } `yaml:"file_info"`
		}
		Overrides map[string]struct {
			Scripts struct{ Preinstall, Postinstall, Preremove, Postremove string }
		}
	}
	Brews []struct {
		Install, Caveats, Service, Test string
	}
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
	}
}

func loadGoreleaser(t *testing.T) goreleaserConfig {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg goreleaserConfig
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("parsing goreleaser.yaml: %v", err)
	}
	if len(cfg.Builds) != 1 || len(cfg.Archives) != 1 || len(cfg.Nfpms) != 1 || len(cfg.Brews) != 1 {
		t.Fatalf("goreleaser.yaml: want one build, archive, nfpm and brew, got %d %d %d %d",
			len(cfg.Builds), len(cfg.Archives), len(cfg.Nfpms), len(cfg.Brews))
	}
	return cfg
}

// TestGoreleaserConfig keeps goreleaser.yaml describing the release the Go
// builder makes: same targets and stamps, same tarball, same package
// contents and maintainer scripts, the same formula blocks.
func TestGoreleaserConfig(t *testing.T) {
	cfg := loadGoreleaser(t)

	t.Run("builds", func(t *testing.T) {
		b := cfg.Builds[0]
		var targets []string
		for _, goos := range b.Goos {
			for _, goarch := range b.Goarch {
				targets = append(targets, goos+"/"+goarch)
			}
		}
		var want []string
		for _, tg := range AllTargets {
			want = append(want, tg.String())
		}
		sort.Strings(targets)
		sort.Strings(want)
		if diff := cmp.Diff(want, targets); diff != "" {
			t.Errorf("targets (-builder +goreleaser):\n%s", diff)
		}
		joined := strings.Join(append(append(append([]string{b.Main}, b.Env...), b.Flags...), b.Ldflags...), " ")
		for _, frag := range []string{"./cmd/parachute", "CGO_ENABLED=0", "-trimpath", "-buildvcs=false", "-tags=" + BuildTags,
			"-s -w -buildid=", Module + "/internal/buildinfo.Version={{ .Version }}",
			Module + "/internal/buildinfo.Commit={{ .FullCommit }}",
			Module + "/internal/buildinfo.Date={{ .CommitDate }}"} {
			if !strings.Contains(joined, frag) {
				t.Errorf("the build lacks %q", frag)
			}
		}
	})

	t.Run("archive", func(t *testing.T) {
		a := cfg.Archives[0]
		if a.NameTemplate != "{{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}" {
			t.Errorf("archive name template %q does not give ArchiveName's names", a.NameTemplate)
		}
		var got, want []string
		for _, f := range a.Files {
			got = append(got, f.Src+" -> "+f.Dst)
		}
		for _, c := range archiveCompletions {
			want = append(want, c.src+" -> "+c.dst)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("archive files (-builder +goreleaser):\n%s", diff)
		}
	})

	t.Run("nfpm", func(t *testing.T) {
		n := cfg.Nfpms[0]
		meta := map[string][2]string{
			"package_name": {Name, n.PackageName}, "vendor": {Vendor, n.Vendor}, "homepage": {Homepage, n.Homepage},
			"maintainer": {Maintainer, n.Maintainer}, "description": {Description, n.Description},
			"section": {"net", n.Section}, "bindir": {filepath.Dir(PackagedBinary), n.Bindir},
			"release": {packageRelease, n.Release},
		}
		for k, v := range meta {
			if v[0] != v[1] {
				t.Errorf("%s: builder %q, goreleaser %q", k, v[0], v[1])
			}
		}
		if diff := cmp.Diff([]string{FormatDeb, FormatRPM}, n.Formats); diff != "" {
			t.Errorf("formats (-want +got):\n%s", diff)
		}
		var got []Content
		for _, c := range n.Contents {
			got = append(got, Content{Src: c.Src, Dst: c.Dst, Type: c.Type, Mode: c.FileInfo.Mode, Packager: c.Packager})
		}
		if diff := cmp.Diff(PackageContents(), got); diff != "" {
			t.Errorf("package contents (-builder +goreleaser):\n%s", diff)
		}
		for format, want := range map[string][4]string{
			FormatDeb: {debScripts.PreInstall, debScripts.PostInstall, debScripts.PreRemove, debScripts.PostRemove},
			FormatRPM: {rpmScripts.PreInstall, rpmScripts.PostInstall, rpmScripts.PreRemove, rpmScripts.PostRemove},
		} {
			s := n.Overrides[format].Scripts
			if got := [4]string{s.Preinstall, s.Postinstall, s.Preremove, s.Postremove}; got != want {
				t.Errorf("%s scripts: builder %q, goreleaser %q", format, want, got)
			}
		}
	})

	t.Run("formula", func(t *testing.T) {
		tmpl, err := os.ReadFile(filepath.Join(repoRoot(t), FormulaTemplate))
		if err != nil {
			t.Fatal(err)
		}
		b := cfg.Brews[0]
		for name, block := range map[string]string{"install": b.Install, "caveats": b.Caveats,
			"service": b.Service, "test": b.Test} {
			for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.Contains(string(tmpl), line) {
					t.Errorf("brews %s line %q is not in %s", name, line, FormulaTemplate)
				}
			}
		}
	})

	if cfg.Checksum.NameTemplate != ChecksumsFile {
		t.Errorf("checksum file %q, want %q", cfg.Checksum.NameTemplate, ChecksumsFile)
	}
}

// goreleaserVersion is the goreleaser the configuration is checked with
// (newer releases need a newer Go than the project's).
const goreleaserVersion = "v2.15.1"

// TestGoreleaserCheck runs `goreleaser check`, which exits 0 only for a
// valid configuration without deprecated keys. goreleaser is not a
// dependency of the module: the test uses one on PATH or in the user cache,
// and installs it there (about three to nine minutes from the module proxy)
// only when PARACHUTE_TEST_GORELEASER=1.
func TestGoreleaserCheck(t *testing.T) {
	bin, err := goreleaserBinary(t)
	if err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	cmd := exec.Command(bin, "check", "--config", "goreleaser.yaml")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("goreleaser check: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "deprecated properties") {
		t.Errorf("goreleaser check reports deprecated properties:\n%s", out)
	}
}

func goreleaserBinary(t *testing.T) (string, error) {
	if p, err := exec.LookPath("goreleaser"); err == nil {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no goreleaser on PATH and no cache directory: %w", err)
	}
	dir := filepath.Join(cache, "parachute", "tools", "bin")
	bin := filepath.Join(dir, "goreleaser")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if os.Getenv("PARACHUTE_TEST_GORELEASER") != "1" {
		return "", fmt.Errorf("goreleaser not on PATH nor in %s; set PARACHUTE_TEST_GORELEASER=1 to install %s there", dir, goreleaserVersion)
	}
	t.Logf("installing goreleaser %s into %s", goreleaserVersion, dir)
	cmd := exec.Command("go", "install", "github.com/goreleaser/goreleaser/v2@"+goreleaserVersion)
	cmd.Env = append(filterEnv(os.Environ(), "GOBIN", "GOFLAGS"), "GOBIN="+dir, "GOFLAGS=")
	cmd.Dir = t.TempDir() // outside the module: its go.mod must not change
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("installing goreleaser: %v\n%s", err, out)
	}
	return bin, nil
}
