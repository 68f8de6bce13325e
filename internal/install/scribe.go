package install

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/secfile"
)

// ScribeProvider is a transcription provider scribe ships with.
type ScribeProvider struct {
	// Name is the value of transcribe.provider in scribe/config.json.
	Name string
	// Blurb says where it runs and what it needs, for the picker.
	Blurb string
	// KeyEnv is the scribe/.env variable holding its API key ("" for the
	// local providers, which need none).
	KeyEnv string
}

// ScribeProviders are the providers, in the picker's order (reference
// scribe-config.ts SCRIBE_PROVIDERS).
var ScribeProviders = []ScribeProvider{
	{Name: "parakeet-mlx", Blurb: "local, Apple Silicon, fastest — requires the `parakeet-mlx` binary on PATH"},
	{Name: "onnx-asr", Blurb: "local, cross-platform (Sherpa-ONNX)"},
	{Name: "whisper", Blurb: "local, any platform — requires `whisper-ctranslate2` (pip install whisper-ctranslate2)"},
	{Name: "groq", Blurb: "cloud, generous free tier, very fast", KeyEnv: "GROQ_API_KEY"},
	{Name: "openai", Blurb: "cloud, paid, reference Whisper API", KeyEnv: "OPENAI_API_KEY"},
}

// DefaultScribeProvider is what scribe uses when its config names none.
const DefaultScribeProvider = "parakeet-mlx"

// LookupScribeProvider returns the provider called name.
func LookupScribeProvider(name string) (ScribeProvider, bool) {
	for _, p := range ScribeProviders {
		if p.Name == name {
			return p, true
		}
	}
	return ScribeProvider{}, false
}

// scribeConfigPath is where scribe reads its configuration.
func scribeConfigPath(p config.Paths) string {
	return filepath.Join(p.ModuleDir("scribe"), "config.json")
}

// ConfiguredScribeProvider is transcribe.provider in scribe/config.json,
// or "" when the file, or the member, is missing or unreadable. The CLI
// skips its picker when an operator already chose a provider other than
// the default (reference scribe-provider-interactive.ts, step 2).
func ConfiguredScribeProvider(p config.Paths) string {
	data, err := secfile.ReadFile(scribeConfigPath(p))
	if err != nil {
		return ""
	}
	var doc struct {
		Transcribe struct {
			Provider string `json:"provider"`
		} `json:"transcribe"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return ""
	}
	return doc.Transcribe.Provider
}

// setScribeProvider writes the chosen provider into scribe/config.json
// (transcribe.provider, merged) and its API key, when it takes one, into
// scribe/.env (reference lifecycle.md §3.4 step 10). No provider leaves
// both files alone; an unknown one is reported and changes nothing. It
// never fails the install, and the key never reaches a log line: it is a
// secret, and the lines go to the operation log.
func (in *Installer) setScribeProvider(provider, key string) {
	if provider == "" {
		if key != "" {
			in.rep.Warn("--scribe-key was given without --scribe-provider; ignored it")
		}
		if ConfiguredScribeProvider(in.paths) == "" {
			// The reference's scribe footer: where the choice lives and how to make it.
			in.rep.Info(fmt.Sprintf("scribe transcribes with %s unless %s sets transcribe.provider (%s; cloud API keys go in %s); "+
				"`parachute install scribe --scribe-provider <name> [--scribe-key <key>]` sets both",
				DefaultScribeProvider, scribeConfigPath(in.paths), strings.Join(scribeProviderNames(), ", "), in.paths.ModuleEnv("scribe")))
		}
		return
	}
	p, ok := LookupScribeProvider(provider)
	if !ok {
		in.rep.Warn(fmt.Sprintf("unknown --scribe-provider %q (known: %s); left scribe's configuration as it was",
			provider, strings.Join(scribeProviderNames(), ", ")))
		return
	}
	cfgPath, envPath := scribeConfigPath(in.paths), in.paths.ModuleEnv("scribe")
	fix := fmt.Sprintf("; scribe's provider was not set. Fix it, then run `parachute install scribe --scribe-provider %s` again", p.Name)
	// Both files are read and checked before either is written, so a
	// broken one leaves the other as it was too.
	name, _ := json.Marshal(p.Name)
	cfg, newCfg, err := mergeJSONFile(cfgPath, []string{"transcribe", "provider"}, name)
	if err != nil {
		in.rep.Warn(err.Error() + fix)
		return
	}
	var env, newEnv []byte
	if p.KeyEnv != "" && key != "" {
		if env, _, err = readEnvFile(envPath); err == nil {
			newEnv, err = manifest.SetEnv(env, p.KeyEnv, key)
		}
		if err != nil {
			// Neither error quotes the key: SetEnv's name the key's
			// variable, readEnvFile's only a line number.
			in.rep.Warn(err.Error() + fix)
			return
		}
	}
	if string(newCfg) != string(cfg) {
		if err := writeSecret(cfgPath, newCfg); err != nil {
			in.rep.Warn(err.Error() + fix)
			return
		}
	}
	switch {
	case newEnv != nil:
		if err := writeSecret(envPath, newEnv); err != nil {
			in.rep.Warn(err.Error() + fix)
			return
		}
		in.rep.Info(fmt.Sprintf("set scribe's transcription provider to %s and saved %s in %s", p.Name, p.KeyEnv, envPath))
	case p.KeyEnv != "":
		in.rep.Info(fmt.Sprintf("set scribe's transcription provider to %s; add %s to %s before transcribing (then `parachute restart scribe`)",
			p.Name, p.KeyEnv, envPath))
	default:
		if key != "" {
			in.rep.Warn(fmt.Sprintf("%s needs no API key; ignored --scribe-key", p.Name))
		}
		in.rep.Info(fmt.Sprintf("set scribe's transcription provider to %s", p.Name))
	}
}

func scribeProviderNames() []string {
	out := make([]string, len(ScribeProviders))
	for i, p := range ScribeProviders {
		out[i] = p.Name
	}
	return out
}
