package install

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScribeProvider(t *testing.T) {
	const key = "gsk_SECRET-key-value-42"
	tests := []struct {
		name           string
		provider, key  string
		cfgBefore      string // "" writes none
		wantCfg        string // "" expects none
		wantEnv        string // "" expects no scribe/.env
		wantLine       string // a progress line containing this
		wantConfigured string
	}{
		{name: "groq with key", provider: "groq", key: key,
			wantCfg:  "{\n  \"transcribe\": {\n    \"provider\": \"groq\"\n  }\n}\n",
			wantEnv:  `GROQ_API_KEY="` + key + "\"\n",
			wantLine: "saved GROQ_API_KEY", wantConfigured: "groq"},
		{name: "openai without key", provider: "openai",
			wantCfg:  "{\n  \"transcribe\": {\n    \"provider\": \"openai\"\n  }\n}\n",
			wantLine: "add OPENAI_API_KEY to", wantConfigured: "openai"},
		{name: "local provider ignores a key", provider: "whisper", key: key,
			cfgBefore: `{"auth":{"required_token":"t"}}`,
			wantCfg:   `{"auth":{"required_token":"t"}, "transcribe": {"provider": "whisper"}}`,
			wantLine:  "whisper needs no API key", wantConfigured: "whisper"},
		{name: "unknown provider leaves config", provider: "banana", key: key,
			cfgBefore: `{"transcribe":{"provider":"onnx-asr"}}`,
			wantCfg:   `{"transcribe":{"provider":"onnx-asr"}}`,
			wantLine:  `unknown --scribe-provider "banana"`, wantConfigured: "onnx-asr"},
		{name: "no flags: untouched, with a hint", wantLine: "sets transcribe.provider (parakeet-mlx, onnx-asr, whisper, groq, openai"},
		{name: "malformed config refused", provider: "groq", key: key,
			cfgBefore: `{"transcribe":`, wantCfg: `{"transcribe":`, wantLine: "is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &Lines{}
			in, paths, _ := newTestInstaller(t, nil, nil, rep)
			cfgPath := filepath.Join(paths.ModuleDir("scribe"), "config.json")
			if tt.cfgBefore != "" {
				mustWrite(t, cfgPath, tt.cfgBefore)
			}
			installFirstParty(t, in, "scribe", Request{ScribeProvider: tt.provider, ScribeKey: tt.key})

			gotCfg, _ := os.ReadFile(cfgPath)
			if diff := cmp.Diff(tt.wantCfg, string(gotCfg)); diff != "" {
				t.Errorf("scribe/config.json (-want +got):\n%s", diff)
			}
			gotEnv, _ := os.ReadFile(paths.ModuleEnv("scribe"))
			if diff := cmp.Diff(tt.wantEnv, string(gotEnv)); diff != "" {
				t.Errorf("scribe/.env (-want +got):\n%s", diff)
			}
			for _, f := range []string{cfgPath, paths.ModuleEnv("scribe")} {
				if fi, err := os.Stat(f); err == nil && tt.cfgBefore == "" && fi.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %04o, want 0600", f, fi.Mode().Perm())
				}
			}
			if got := ConfiguredScribeProvider(paths); got != tt.wantConfigured {
				t.Errorf("ConfiguredScribeProvider = %q, want %q", got, tt.wantConfigured)
			}
			lines := rep.All()
			if tt.wantLine != "" && !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, tt.wantLine) }) {
				t.Errorf("no progress line with %q:\n%s", tt.wantLine, strings.Join(lines, "\n"))
			}
			for _, l := range lines {
				if strings.Contains(l, key) {
					t.Errorf("the API key appears in a progress line: %q", l)
				}
			}
		})
	}
}

func TestScribeProviderOnlyForScribe(t *testing.T) {
	in, paths, _ := newTestInstaller(t, nil, nil, nil)
	installFirstParty(t, in, "vault", Request{ScribeProvider: "groq", ScribeKey: "k"})
	if _, err := os.Stat(paths.ModuleDir("scribe")); !os.IsNotExist(err) {
		t.Errorf("installing vault wrote scribe's configuration (stat err %v)", err)
	}
}
