package release

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/testenv"

	"github.com/google/go-cmp/cmp"
)

// fakeRelease writes the tarballs of every formula platform (around a stand-
// in binary) and SHA256SUMS into a dist directory, as Build does.
func fakeRelease(t *testing.T, s Stamp) (dist string, sums map[string]string) {
	t.Helper()
	dist = t.TempDir()
	bin := filepath.Join(t.TempDir(), "parachute")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho parachute\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tg := range FormulaTargets {
		// Distinct bytes per platform, so a mixed-up checksum shows.
		if err := os.WriteFile(bin, []byte("#!/bin/sh\necho "+tg.String()+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := BuildArchive(repoRoot(t), bin, s, filepath.Join(dist, ArchiveName(s, tg))); err != nil {
			t.Fatal(err)
		}
	}
	sums, err := WriteChecksums(dist)
	if err != nil {
		t.Fatal(err)
	}
	return dist, sums
}

// readSums parses a SHA256SUMS file.
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("bad SHA256SUMS line %q", sc.Text())
		}
		out[name] = sum
	}
	return out
}

// TestFormulaNamesRelease renders the formula for a release and checks that
// it downloads, for every platform, the tarball dist/ holds from the tag's
// GitHub release, with the checksum SHA256SUMS lists; and that Ruby parses it.
func TestFormulaNamesRelease(t *testing.T) {
	s := testStamp
	dist, sums := fakeRelease(t, s)
	in, err := NewFormulaInput(s, FormulaTargets, sums, "")
	if err != nil {
		t.Fatal(err)
	}
	rb, err := RenderFormula(repoRoot(t), in)
	if err != nil {
		t.Fatal(err)
	}
	listed := readSums(t, filepath.Join(dist, ChecksumsFile))

	// Pair each url with the sha256 on the next line.
	re := regexp.MustCompile(`url "([^"]+)"\s+sha256 "([0-9a-f]{64})"`)
	got := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(rb), -1) {
		got[m[1]] = m[2]
	}
	want := map[string]string{}
	for _, tg := range FormulaTargets {
		name := ArchiveName(s, tg)
		if _, err := os.Stat(filepath.Join(dist, name)); err != nil {
			t.Fatal(err)
		}
		want["https://github.com/openparachute/parachute/releases/download/v1.0.0/"+name] = listed[name]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("formula downloads (-want +got):\n%s", diff)
	}
	for _, frag := range []string{
		`version "1.0.0"`,
		`run [opt_bin/"parachute", "serve"]`,
		`shell_output("#{bin}/parachute version")`,
		`parachute init`,
		`bash_completion.install`, `zsh_completion.install`, `fish_completion.install`,
	} {
		if !strings.Contains(string(rb), frag) {
			t.Errorf("formula lacks %q", frag)
		}
	}
	if strings.Contains(string(rb), "{{") {
		t.Error("formula still holds a template placeholder")
	}

	ruby := need(t, "ruby", "ruby")
	p := filepath.Join(t.TempDir(), "parachute.rb")
	if err := os.WriteFile(p, rb, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, ruby, "-c", p)
	// The template itself is valid Ruby too.
	run(t, ruby, "-c", filepath.Join(repoRoot(t), FormulaTemplate))
}

// TestFormulaArchiveLayout checks the tarball holds what the formula
// installs: the binary at the top, the completions under completions/.
func TestFormulaArchiveLayout(t *testing.T) {
	tar := need(t, "tar", "tar")
	dist, _ := fakeRelease(t, testStamp)
	out := run(t, tar, "-tvzf", filepath.Join(dist, ArchiveName(testStamp, Target{"darwin", "arm64"})))
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		// mode owner/group size date time name
		got = append(got, f[0]+" "+f[1]+" "+f[3]+" "+f[4]+" "+f[5])
	}
	want := []string{
		"-rwxr-xr-x 0/0 2026-11-26 12:00 parachute",
		"drwxr-xr-x 0/0 2026-11-26 12:00 completions/",
		"-rw-r--r-- 0/0 2026-11-26 12:00 completions/parachute.bash",
		"-rw-r--r-- 0/0 2026-11-26 12:00 completions/_parachute",
		"-rw-r--r-- 0/0 2026-11-26 12:00 completions/parachute.fish",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tarball listing (-want +got):\n%s", diff)
	}
}

func TestFormulaRefusesGaps(t *testing.T) {
	s := testStamp
	_, sums := fakeRelease(t, s)
	delete(sums, ArchiveName(s, Target{"linux", "arm64"}))
	if _, err := NewFormulaInput(s, FormulaTargets, sums, ""); err == nil {
		t.Error("rendered a formula without the linux/arm64 checksum")
	}
	in, err := NewFormulaInput(s, DarwinTargets, sums, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RenderFormula(repoRoot(t), in); err == nil {
		t.Error("rendered a formula whose Linux URLs are missing")
	}
}

// TestCompletionScripts checks the shipped completion scripts parse (bash
// always; zsh and fish when installed).
func TestCompletionScripts(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "packaging", "completions")
	for _, c := range []struct{ shell, file string }{
		{"bash", "parachute.bash"}, {"zsh", "_parachute"}, {"fish", "parachute.fish"},
	} {
		t.Run(c.shell, func(t *testing.T) {
			sh, err := exec.LookPath(c.shell)
			if err != nil {
				testenv.Unavailable(t, "%s not installed", c.shell)
			}
			run(t, sh, "-n", filepath.Join(dir, c.file))
		})
	}
}
