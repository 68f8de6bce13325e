package install

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
)

// wireRuntime records starts and remembers what it started as running,
// so the installer's "restart when running" decisions can be observed.
type wireRuntime struct {
	mu      sync.Mutex
	running map[string]bool
	events  []string
}

func (r *wireRuntime) Start(_ context.Context, short string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		r.running = map[string]bool{}
	}
	r.running[short] = true
	r.events = append(r.events, "start "+short)
	return nil
}

func (r *wireRuntime) Stop(_ context.Context, short string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, short)
	r.events = append(r.events, "stop "+short)
	return nil
}

func (r *wireRuntime) Running(short string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[short]
}

func (r *wireRuntime) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// installFirstParty installs a local directory standing in for the
// first-party module short (package @openparachute/<short>), used in place.
func installFirstParty(t *testing.T, in *Installer, short string, req Request) *Result {
	t.Helper()
	dir := writeModule(t, filepath.Join(t.TempDir(), short), fixture{pkg: "@openparachute/" + short, version: "1.0.0", name: short, port: 0})
	if short == "vault" {
		// A new vault install runs `parachute-vault init` (initstep.go);
		// this one succeeds without creating anything.
		mustWrite(t, filepath.Join(dir, "bin", "init.sh"), "#!/bin/sh\nexit 0\n")
		if err := os.Chmod(filepath.Join(dir, "bin", "init.sh"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeJSONFile(t, filepath.Join(dir, "package.json"), map[string]any{"name": "@openparachute/vault", "version": "1.0.0",
			"bin": map[string]string{"parachute-vault": "bin/init.sh"}})
	}
	req.Source = dir
	res, err := in.Install(context.Background(), req)
	if err != nil {
		t.Fatalf("installing %s: %v", short, err)
	}
	return res
}

// wiring reads what auto-wire wrote: vault/.env's variables and
// scribe/config.json's auth.required_token, checking both are 0600.
func wiring(t *testing.T, p config.Paths) (env map[string]string, required string) {
	t.Helper()
	env = map[string]string{}
	vars, err := manifest.LoadEnv(p.ModuleEnv("vault"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vars {
		env[v.Key] = v.Value
	}
	cfgPath := filepath.Join(p.ModuleDir("scribe"), "config.json")
	data, err := os.ReadFile(cfgPath)
	if os.IsNotExist(err) {
		return env, ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Auth struct {
			RequiredToken string `json:"required_token"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v\n%s", cfgPath, err, data)
	}
	for _, f := range []string{p.ModuleEnv("vault"), cfgPath} {
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", f, fi.Mode().Perm())
		}
	}
	return env, doc.Auth.RequiredToken
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestAutoWireBothOrders(t *testing.T) {
	tests := []struct {
		name       string
		first      string
		scribePort int // 0: the canonical 1943
		// wantEvents are the runtime's starts while the second module
		// installs: the restart of the running first one (its file
		// changed), then the start of the second.
		wantEvents []string
	}{
		{name: "vault first, scribe on another port", first: "vault", scribePort: 1953,
			wantEvents: []string{"start vault", "start scribe"}},
		{name: "scribe first", first: "scribe",
			wantEvents: []string{"start scribe", "start vault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &wireRuntime{}
			rep := &Lines{}
			in, paths, _ := newTestInstaller(t, rt, nil, rep)
			second := map[string]string{"vault": "scribe", "scribe": "vault"}[tt.first]
			port := func(short string) int {
				if short == "scribe" {
					return tt.scribePort
				}
				return 0
			}
			installFirstParty(t, in, tt.first, Request{Port: port(tt.first)})
			if _, err := os.Stat(paths.ModuleEnv("vault")); !os.IsNotExist(err) {
				t.Fatalf("one module alone wired something: vault/.env stat err = %v", err)
			}
			if _, tok := wiring(t, paths); tok != "" {
				t.Fatal("one module alone wrote scribe/config.json")
			}
			rt.take()

			installFirstParty(t, in, second, Request{Port: port(second)})
			if diff := cmp.Diff(tt.wantEvents, rt.take()); diff != "" {
				t.Errorf("runtime starts (-want +got):\n%s", diff)
			}
			env, required := wiring(t, paths)
			if !hex64.MatchString(env["SCRIBE_AUTH_TOKEN"]) {
				t.Errorf("SCRIBE_AUTH_TOKEN = %q, want 64 hex characters", env["SCRIBE_AUTH_TOKEN"])
			}
			if required != env["SCRIBE_AUTH_TOKEN"] {
				t.Errorf("scribe's auth.required_token %q != vault's SCRIBE_AUTH_TOKEN %q", required, env["SCRIBE_AUTH_TOKEN"])
			}
			wantPort := 1943
			if tt.scribePort != 0 {
				wantPort = tt.scribePort
			}
			if want := fmt.Sprintf("http://127.0.0.1:%d", wantPort); env["SCRIBE_URL"] != want {
				t.Errorf("SCRIBE_URL = %q, want %q", env["SCRIBE_URL"], want)
			}
			for _, l := range rep.All() {
				if strings.Contains(l, env["SCRIBE_AUTH_TOKEN"]) {
					t.Errorf("the token appears in a progress line: %q", l)
				}
			}

			// A re-install keeps the token (no rotation) and restarts
			// nothing for the wiring.
			installFirstParty(t, in, tt.first, Request{Port: port(tt.first)})
			if diff := cmp.Diff([]string{"start " + tt.first}, rt.take()); diff != "" {
				t.Errorf("re-install starts (-want +got):\n%s", diff)
			}
			env2, required2 := wiring(t, paths)
			if env2["SCRIBE_AUTH_TOKEN"] != env["SCRIBE_AUTH_TOKEN"] || required2 != required {
				t.Errorf("re-install rotated the token: %q → %q", env["SCRIBE_AUTH_TOKEN"], env2["SCRIBE_AUTH_TOKEN"])
			}
		})
	}
}

func TestAutoWireKeepsExistingValuesAndOtherBytes(t *testing.T) {
	rt := &wireRuntime{}
	in, paths, _ := newTestInstaller(t, rt, nil, nil)
	envIn := "# operator notes\nexport OTHER='x y'   # keep\nSCRIBE_AUTH_TOKEN=mine\nSCRIBE_URL=http://scribe.lan:9000\n"
	cfgIn := "{\n    \"transcribe\": { \"provider\": \"groq\" },\n    \"auth\": {\"other\": 1},\n    \"x\": [1,\n 2]\n}\n"
	mustWrite(t, paths.ModuleEnv("vault"), envIn)
	mustWrite(t, filepath.Join(paths.ModuleDir("scribe"), "config.json"), cfgIn)

	installFirstParty(t, in, "scribe", Request{})
	installFirstParty(t, in, "vault", Request{})
	if got := readString(t, paths.ModuleEnv("vault")); got != envIn {
		t.Errorf("vault/.env changed:\n%s", cmp.Diff(envIn, got))
	}
	want := "{\n    \"transcribe\": { \"provider\": \"groq\" },\n    \"auth\": {\"other\": 1, \"required_token\": \"mine\"},\n    \"x\": [1,\n 2]\n}\n"
	if got := readString(t, filepath.Join(paths.ModuleDir("scribe"), "config.json")); got != want {
		t.Errorf("scribe/config.json (-want +got):\n%s", cmp.Diff(want, got))
	}
	// vault's .env did not change, so only the install's own start ran;
	// scribe's config did, and scribe was running: it was restarted.
	if diff := cmp.Diff([]string{"start scribe", "start scribe", "start vault"}, rt.take()); diff != "" {
		t.Errorf("runtime starts (-want +got):\n%s", diff)
	}
}

func TestAutoWireRefusesMalformedConfig(t *testing.T) {
	for name, cfg := range map[string]string{
		"truncated": "{\"auth\": ",
		"an array":  "[1, 2]\n",
		"trailing":  "{} {}",
	} {
		t.Run(name, func(t *testing.T) {
			rep := &Lines{}
			in, paths, _ := newTestInstaller(t, nil, nil, rep)
			cfgPath := filepath.Join(paths.ModuleDir("scribe"), "config.json")
			mustWrite(t, cfgPath, cfg)
			installFirstParty(t, in, "vault", Request{})
			installFirstParty(t, in, "scribe", Request{}) // the install itself succeeds
			if got := readString(t, cfgPath); got != cfg {
				t.Errorf("malformed config.json was rewritten to %q", got)
			}
			if _, err := os.Stat(paths.ModuleEnv("vault")); !os.IsNotExist(err) {
				t.Errorf("vault/.env was written although scribe's config could not be: stat err %v", err)
			}
			if !slices.ContainsFunc(rep.All(), func(l string) bool {
				return strings.Contains(l, cfgPath) && strings.Contains(l, "parachute install scribe")
			}) {
				t.Errorf("no warning naming %s and the command to re-run; lines:\n%s", cfgPath, strings.Join(rep.All(), "\n"))
			}
		})
	}
}

func TestAutoWireNeverWritesThroughSymlinks(t *testing.T) {
	in, paths, _ := newTestInstaller(t, nil, nil, nil)
	elsewhere := filepath.Join(t.TempDir(), "target")
	mustWrite(t, elsewhere, "A=1\n")
	if err := os.MkdirAll(paths.ModuleDir("vault"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, paths.ModuleEnv("vault")); err != nil {
		t.Fatal(err)
	}
	installFirstParty(t, in, "vault", Request{})
	installFirstParty(t, in, "scribe", Request{})
	if got := readString(t, elsewhere); got != "A=1\n" {
		t.Errorf("the symlink's target was changed to %q", got)
	}
	if fi, err := os.Lstat(paths.ModuleEnv("vault")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("vault/.env is no longer the planted symlink (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(paths.ModuleDir("scribe"), "config.json")); !os.IsNotExist(err) {
		t.Errorf("scribe got a token although vault's .env could not take it (stat err %v)", err)
	}
}

func TestAutoWireOnlyVaultAndScribe(t *testing.T) {
	in, paths, _ := newTestInstaller(t, nil, nil, nil)
	installFirstParty(t, in, "vault", Request{})
	installFirstParty(t, in, "scribe", Request{})
	if err := os.Remove(paths.ModuleEnv("vault")); err != nil {
		t.Fatal(err)
	}
	// Both rows exist, but a third module's install does not wire them.
	dir := writeModule(t, filepath.Join(t.TempDir(), "other"), fixture{pkg: "other-mod", version: "1.0.0", name: "other", port: 4700})
	if _, err := in.Install(context.Background(), Request{Source: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(paths.ModuleEnv("vault")); !os.IsNotExist(err) {
		t.Errorf("installing another module wrote vault/.env (stat err %v)", err)
	}
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAutoWireReusesScribesToken: when vault's .env has no token but
// scribe already requires one (vault was purged and installed again),
// vault gets scribe's token: scribe's is not rotated and scribe is not
// restarted.
func TestAutoWireReusesScribesToken(t *testing.T) {
	rt := &wireRuntime{}
	in, paths, _ := newTestInstaller(t, rt, nil, nil)
	installFirstParty(t, in, "scribe", Request{})
	const kept = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cfgIn := `{"auth": {"required_token": "` + kept + `"}}` + "\n"
	mustWrite(t, filepath.Join(paths.ModuleDir("scribe"), "config.json"), cfgIn)
	rt.take()

	installFirstParty(t, in, "vault", Request{})
	env, required := wiring(t, paths)
	if env["SCRIBE_AUTH_TOKEN"] != kept || required != kept {
		t.Errorf("vault's token %q, scribe's %q; want both %q", env["SCRIBE_AUTH_TOKEN"], required, kept)
	}
	if got := readString(t, filepath.Join(paths.ModuleDir("scribe"), "config.json")); got != cfgIn {
		t.Errorf("scribe/config.json changed:\n%s", cmp.Diff(cfgIn, got))
	}
	if diff := cmp.Diff([]string{"start vault"}, rt.take()); diff != "" {
		t.Errorf("runtime starts (-want +got):\n%s", diff)
	}
}

// FuzzScribeRequiredToken: scribe's config.json is written by scribe too,
// so its bytes are not ours. Whatever it holds, the token read from it
// goes into vault/.env intact: SetEnv accepts it and ParseEnv gives it back.
func FuzzScribeRequiredToken(f *testing.F) {
	for _, s := range []string{`{"auth":{"required_token":"abc"}}`, `{"auth":{"required_token":"a\"b\n$c\\d"}}`,
		`{"auth":{"required_token":"\u0000"}}`, `{"auth":null}`, `[]`, `{"auth":{"required_token":5}}`, ``} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "config.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		tok := scribeRequiredToken(p)
		if tok == "" {
			return
		}
		env, err := manifest.SetEnv(nil, "SCRIBE_AUTH_TOKEN", tok)
		if err != nil {
			t.Fatalf("SetEnv refused %q: %v", tok, err)
		}
		vars, err := manifest.ParseEnv(env)
		if err != nil || len(vars) != 1 || vars[0].Value != tok {
			t.Fatalf("token %q came back as %+v, %v from %q", tok, vars, err, env)
		}
	})
}
