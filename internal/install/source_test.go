package install

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSource(t *testing.T) {
	dir := t.TempDir()
	good := writeModule(t, filepath.Join(dir, "good"), fixture{pkg: "good-mod", version: "1.2.3", name: "good", port: 4100})
	noMod := writeModule(t, filepath.Join(dir, "nomod"), fixture{pkg: "nomod", version: "1.0.0"})
	badMod := writeModule(t, filepath.Join(dir, "bad"), fixture{pkg: "bad", version: "1.0.0", raw: `{"name": "bad", "port": "x"}`})
	stringCmd := writeModule(t, filepath.Join(dir, "strcmd"), fixture{raw: `{"name": "strcmd", "startCmd": "bun run x"}`})
	tgz := packTarball(t, good, filepath.Join(dir, "good-1.2.3.tgz"))
	tgzNoMod := packTarball(t, noMod, filepath.Join(dir, "nomod-1.0.0.tgz"))
	other := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	type want struct {
		Kind             SourceKind
		Package, Spec    string
		Version          string
		Path             string
		Known            string
		Module           string
		ChannelDefaulted bool
	}
	tests := []struct {
		name    string
		arg     string
		opts    SourceOptions
		want    want
		wantErr []string
	}{
		{name: "known short", arg: "vault", want: want{Kind: SourceKnown, Package: "@openparachute/vault", Spec: "@openparachute/vault@latest", Known: "vault", ChannelDefaulted: true}},
		{name: "known short on rc", arg: "scribe", opts: SourceOptions{Channel: "rc"}, want: want{Kind: SourceKnown, Package: "@openparachute/scribe", Spec: "@openparachute/scribe@rc", Known: "scribe"}},
		{name: "tag beats channel", arg: "vault", opts: SourceOptions{Channel: "rc", Tag: "0.5.1"}, want: want{Kind: SourceKnown, Package: "@openparachute/vault", Spec: "@openparachute/vault@0.5.1", Version: "0.5.1", Known: "vault"}},
		{name: "known with version", arg: "vault@1.0.0-rc.2", want: want{Kind: SourceKnown, Package: "@openparachute/vault", Spec: "@openparachute/vault@1.0.0-rc.2", Version: "1.0.0-rc.2", Known: "vault"}},
		{name: "env default channel", arg: "vault", opts: SourceOptions{DefaultChannel: "rc"}, want: want{Kind: SourceKnown, Package: "@openparachute/vault", Spec: "@openparachute/vault@rc", Known: "vault"}},
		{name: "renamed alias", arg: "lens", want: want{Kind: SourceKnown, Package: "@openparachute/notes", Spec: "@openparachute/notes@latest", Known: "notes", ChannelDefaulted: true}},
		{name: "npm spec", arg: "parachute-weather@2.0.0", want: want{Kind: SourceRegistry, Package: "parachute-weather", Spec: "parachute-weather@2.0.0", Version: "2.0.0"}},
		{name: "scoped npm spec", arg: "@acme/mod", opts: SourceOptions{Channel: "rc"}, want: want{Kind: SourceRegistry, Package: "@acme/mod", Spec: "@acme/mod@rc"}},
		{name: "first-party package by npm name", arg: "@openparachute/vault@rc", want: want{Kind: SourceRegistry, Package: "@openparachute/vault", Spec: "@openparachute/vault@rc", Known: "vault"}},
		{name: "directory", arg: good, want: want{Kind: SourceDir, Package: "good-mod", Path: good, Version: "1.2.3", Module: "good"}},
		{name: "tarball", arg: tgz, want: want{Kind: SourceTarball, Package: "good-mod", Spec: tgz, Path: tgz, Version: "1.2.3", Module: "good"}},
		{name: "bad channel", arg: "vault", opts: SourceOptions{Channel: "beta"}, wantErr: []string{`--channel must be "rc" or "latest" (got "beta")`}},
		{name: "not a name", arg: "Not A Module!", wantErr: []string{"unknown module", "vault"}},
		{name: "missing path", arg: filepath.Join(dir, "missing"), wantErr: []string{"does not exist"}},
		{name: "directory without module.json", arg: noMod, wantErr: []string{"no .parachute/module.json", "not a Parachute module"}},
		{name: "tarball without module.json", arg: tgzNoMod, wantErr: []string{"no .parachute/module.json"}},
		{name: "malformed module.json names file and field", arg: badMod, wantErr: []string{filepath.Join(badMod, ".parachute", "module.json"), "port"}},
		{name: "startCmd as a string", arg: stringCmd, wantErr: []string{"startCmd", "never run through a shell"}},
		{name: "plain file", arg: other, wantErr: []string{"neither a directory nor an npm tarball"}},
		{name: "empty", arg: "", wantErr: []string{"nothing to install"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := ParseSource(tc.arg, tc.opts)
			if tc.wantErr != nil {
				wantErrContains(t, err, tc.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{Kind: src.Kind, Package: src.Package, Spec: src.Spec, Version: src.Version, Path: src.Path, ChannelDefaulted: src.ChannelDefaulted}
			if src.Known != nil {
				got.Known = src.Known.Short
			}
			if src.Module != nil {
				got.Module = src.Module.Name
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("ParseSource(%q) mismatch (-want +got):\n%s", tc.arg, d)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	cmpTests := []struct {
		a, b string
		want int
		ok   bool
	}{
		{"0.5.13", "0.5.13-rc.13", 1, true},
		{"0.5.10", "0.5.13-rc.13", -1, true},
		{"0.5.13-rc.14", "0.5.13-rc.13", 1, true},
		{"1.0.0", "v1.0.0", 0, true},
		{"0.5.14", "0.5.13-rc.99", 1, true},
		{"1.0.0+build.1", "1.0.0", 0, true},
		{"garbage", "1.0.0", 0, false},
		{"", "1.0.0", 0, false},
	}
	for _, tc := range cmpTests {
		t.Run("compare "+tc.a+" "+tc.b, func(t *testing.T) {
			got, ok := CompareVersions(tc.a, tc.b)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("CompareVersions(%q, %q) = %d, %v; want %d, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
			}
		})
	}
	chTests := map[string]string{
		"0.5.13-rc.13": "rc", "1.0.0-rc": "rc", "1.0.0-beta.1": "rc",
		"0.5.10": "latest", "1.0.0": "latest", "": "latest", "nonsense": "latest",
	}
	for v, want := range chTests {
		t.Run("channel "+v, func(t *testing.T) {
			if got := DetectChannel(v); got != want {
				t.Fatalf("DetectChannel(%q) = %q, want %q", v, got, want)
			}
		})
	}
}
