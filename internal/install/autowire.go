package install

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/openparachute/parachute/internal/atomicfile"
	"github.com/openparachute/parachute/internal/lazyre"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/secfile"
)

// The variables vault reads to reach scribe (reference auto-wire.ts).
const (
	scribeTokenEnv = "SCRIBE_AUTH_TOKEN"
	scribeURLEnv   = "SCRIBE_URL"
)

// RunningChecker is implemented by a Runtime that can tell whether a
// module is running under it. The installer restarts a module whose
// configuration it changed only when it runs; a Runtime without this
// method is taken to run nothing.
type RunningChecker interface {
	Running(short string) bool
}

// configure is the installer's module-configuration step, run once the
// module is registered and before it starts (so its first boot reads the
// result): scribe's transcription provider, then the vault↔scribe wiring.
// Neither fails the install; problems are reported with what to run.
func (in *Installer) configure(ctx context.Context, short string, req Request) {
	if short == "scribe" {
		in.setScribeProvider(req.ScribeProvider, req.ScribeKey)
	}
	in.autoWire(ctx, short)
}

// autoWire wires vault's transcription worker to scribe when short is one
// of the two and both are installed (reference lifecycle.md §3.4 step 9):
// vault/.env gets SCRIBE_AUTH_TOKEN (unless one is set: scribe's
// auth.required_token when it has one, else a new 64-hex token; an
// existing token is never rotated) and SCRIBE_URL (unless set: at
// scribe's registered port), and scribe/config.json gets the same token as
// auth.required_token, merged into whatever else the file holds. A
// module other than short whose file changed is restarted when it runs,
// so it reads the new values; short itself is about to be started by the
// install. Nothing is written when either file cannot be read and parsed.
func (in *Installer) autoWire(ctx context.Context, short string) {
	if short != "vault" && short != "scribe" {
		return
	}
	vault, verr := in.findRow("vault")
	scribe, serr := in.findRow("scribe")
	if verr != nil || serr != nil || vault == nil || scribe == nil {
		return // findRow's errors already failed registration; no row, nothing to wire
	}
	envPath := in.paths.ModuleEnv("vault")
	cfgPath := scribeConfigPath(in.paths)
	fixHint := "; vault and scribe are not wired for transcription. Fix it, then run `parachute install " + short + "` again"

	env, vars, err := readEnvFile(envPath)
	if err != nil {
		in.rep.Warn(err.Error() + fixHint)
		return
	}
	token, url := lastValue(vars, scribeTokenEnv), lastValue(vars, scribeURLEnv)
	newEnv := env
	if token == "" {
		// scribe's side may outlive vault's (`uninstall vault --purge`,
		// then a new vault): keep the token scribe already requires, so
		// nothing that holds it breaks and scribe needs no restart.
		token = scribeRequiredToken(cfgPath)
	}
	if token == "" {
		if token, err = newScribeToken(); err != nil {
			in.rep.Warn(err.Error() + fixHint)
			return
		}
	}
	if lastValue(vars, scribeTokenEnv) == "" {
		newEnv, _ = manifest.SetEnv(newEnv, scribeTokenEnv, token) // parsed above, the key and value are valid
	}
	if url == "" {
		url = fmt.Sprintf("http://127.0.0.1:%d", scribe.Port)
		newEnv, _ = manifest.SetEnv(newEnv, scribeURLEnv, url)
	}
	tok, _ := json.Marshal(token) // a string always marshals
	cfg, newCfg, err := mergeJSONFile(cfgPath, []string{"auth", "required_token"}, tok)
	if err != nil {
		in.rep.Warn(err.Error() + fixHint)
		return
	}

	envChanged, cfgChanged := string(newEnv) != string(env), string(newCfg) != string(cfg)
	// .env first: should the second write fail, vault sends a token that
	// scribe does not yet ask for, which still transcribes; the other way
	// round scribe would refuse vault until the next run.
	if envChanged {
		if err := writeSecret(envPath, newEnv); err != nil {
			in.rep.Warn(err.Error() + fixHint)
			return
		}
	}
	if cfgChanged {
		if err := writeSecret(cfgPath, newCfg); err != nil {
			in.rep.Warn(err.Error() + fixHint)
			return
		}
	}
	switch {
	case !envChanged && !cfgChanged:
		in.rep.Info(fmt.Sprintf("vault → scribe transcription already wired (%s, %s); nothing changed", envPath, cfgPath))
	case !envChanged:
		in.rep.Info(fmt.Sprintf("kept vault's %s and %s=%s; synced auth.required_token into %s", scribeTokenEnv, scribeURLEnv, url, cfgPath))
	default:
		in.rep.Info(fmt.Sprintf("wired vault → scribe transcription: %s and %s=%s in %s, auth.required_token in %s",
			scribeTokenEnv, scribeURLEnv, url, envPath, cfgPath))
	}
	if envChanged && short != "vault" {
		in.restartIfRunning(ctx, "vault", "to pick up the transcription wiring")
	}
	if cfgChanged && short != "scribe" {
		in.restartIfRunning(ctx, "scribe", "to pick up its new auth token")
	}
}

// scribeRequiredToken is auth.required_token in scribe's config.json, ""
// when the file, the member or a usable value is missing (a malformed file
// is reported by the merge that follows).
func scribeRequiredToken(cfgPath string) string {
	data, err := secfile.ReadFile(cfgPath)
	if err != nil {
		return ""
	}
	var doc struct {
		Auth struct {
			RequiredToken string `json:"required_token"`
		} `json:"auth"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return ""
	}
	// A NUL cannot go into an environment (SetEnv refuses it).
	if strings.ContainsRune(doc.Auth.RequiredToken, 0) {
		return ""
	}
	return doc.Auth.RequiredToken
}

// restartIfRunning restarts short through the Runtime when it runs there.
// A failed restart is reported with the command to retry it.
func (in *Installer) restartIfRunning(ctx context.Context, short, why string) {
	rc, ok := in.rt.(RunningChecker)
	if in.rt == nil || !ok || !rc.Running(short) {
		return
	}
	end := in.rep.Begin(fmt.Sprintf("restarting %s %s", short, why))
	err := in.rt.Start(ctx, short)
	end(err)
	if err != nil {
		in.rep.Warn(fmt.Sprintf("%s did not restart: %v; run `parachute restart %s`", short, err, short))
	}
}

// newScribeToken is 32 random bytes, hex-encoded (64 characters).
func newScribeToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a scribe token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// readEnvFile reads and parses a module .env, never through a symlink. A
// missing file is empty. A parse error names only the line: the file holds
// secrets, and the message goes to the operation log.
func readEnvFile(path string) ([]byte, []manifest.EnvVar, error) {
	data, err := secfile.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	vars, err := manifest.ParseEnv(data)
	if err != nil {
		where := "a line"
		if m := envLineRE.Compiled().FindString(err.Error()); m != "" {
			where = m
		}
		return nil, nil, fmt.Errorf("%s: %s is not KEY=VALUE", path, where)
	}
	return data, vars, nil
}

var envLineRE = &lazyre.Regexp{Expr: `^line \d+`}

// lastValue is the value of key's last assignment ("" when unset).
func lastValue(vars []manifest.EnvVar, key string) string {
	v := ""
	for _, e := range vars {
		if e.Key == key {
			v = e.Value
		}
	}
	return v
}

// mergeJSONFile reads the JSON object at path (never through a symlink)
// and returns its bytes and the bytes with the member at member set to
// val (setJSONMember). A missing file starts as an empty object; a file
// that is not a JSON object is refused, never overwritten.
func mergeJSONFile(path string, member []string, val json.RawMessage) (old, updated []byte, err error) {
	old, err = secfile.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fresh, _ := json.MarshalIndent(json.RawMessage(nest(member, val)), "", "  ") // valid by construction
		return nil, append(fresh, '\n'), nil
	case err != nil:
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	updated, err = setJSONMember(old, member, val)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a JSON object (%v); it was left as it is", path, err)
	}
	return old, updated, nil
}

// writeSecret writes a module's secret-bearing file: mode 0600,
// atomically, replacing a regular file only (atomicfile refuses a symlink,
// and a rename never writes through one), in a 0700 directory created when
// missing.
func writeSecret(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.WriteFile(path, data, 0o600)
}
