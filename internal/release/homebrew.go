package release

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// FormulaTemplate is the Homebrew formula template, relative to the
// repository root. It is valid Ruby as checked in.
const FormulaTemplate = "packaging/homebrew/parachute.rb"

// DefaultDownloadBase is where a release's files are published: the GitHub
// release of the tag.
const DefaultDownloadBase = "https://github.com/openparachute/parachute/releases/download"

// FormulaInput is what the formula names for one release.
type FormulaInput struct {
	Summary  string
	Homepage string
	Version  string
	// URL and SHA256 are keyed "<os>_<arch>" (darwin_arm64, linux_amd64...).
	URL    map[string]string
	SHA256 map[string]string
}

// NewFormulaInput fills the input from the archive checksums of a release
// (keyed by archive file name, as WriteChecksums returns them). downloadBase
// "" means DefaultDownloadBase.
func NewFormulaInput(s Stamp, targets []Target, sums map[string]string, downloadBase string) (FormulaInput, error) {
	if downloadBase == "" {
		downloadBase = DefaultDownloadBase
	}
	in := FormulaInput{Summary: Summary, Homepage: Homepage, Version: s.Version,
		URL: map[string]string{}, SHA256: map[string]string{}}
	for _, t := range targets {
		name := ArchiveName(s, t)
		sum, ok := sums[name]
		if !ok {
			return FormulaInput{}, fmt.Errorf("rendering the formula: no checksum for %s", name)
		}
		key := t.OS + "_" + t.Arch
		in.URL[key] = strings.TrimSuffix(downloadBase, "/") + "/" + s.Tag() + "/" + name
		in.SHA256[key] = sum
	}
	return in, nil
}

// RenderFormula renders the template in root with in. A placeholder the
// input does not fill is an error, never an empty string.
func RenderFormula(root string, in FormulaInput) ([]byte, error) {
	// Every value lands inside a Ruby double-quoted string.
	if strings.ContainsAny(in.Summary+in.Homepage+in.Version, "\"\\#") {
		return nil, fmt.Errorf("rendering the formula: a value would need Ruby string escaping")
	}
	src, err := os.ReadFile(filepath.Join(root, FormulaTemplate))
	if err != nil {
		return nil, fmt.Errorf("reading the formula template: %w", err)
	}
	tmpl, err := template.New("formula").Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parsing the formula template: %w", err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, in); err != nil {
		return nil, fmt.Errorf("rendering the formula: %w", err)
	}
	return b.Bytes(), nil
}
