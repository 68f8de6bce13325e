package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/testenv"
)

// stubVault is a parachute-vault stand-in: it records its arguments (one
// per line) and environment in $STUB_OUT, prints to stdout and stderr,
// then exits with $STUB_CODE, or kills itself with $STUB_SIGNAL.
const stubVault = `#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done > "$STUB_OUT/args"
env > "$STUB_OUT/env"
echo "vault says hi"
echo "vault warns" >&2
if [ -n "$STUB_SIGNAL" ]; then kill -"$STUB_SIGNAL" $$; fi
exit "${STUB_CODE:-0}"
`

type vaultSetup struct {
	root, out, stubDir string
}

// setupVault makes a config root with a vault row on port 1940 and a
// vault .env, a fake hub answering /api/hub with its issuer, and a stub
// parachute-vault on PATH (when onPath).
func setupVault(t *testing.T, onPath bool) vaultSetup {
	t.Helper()
	s := vaultSetup{root: t.TempDir(), out: t.TempDir(), stubDir: t.TempDir()}
	t.Setenv("PARACHUTE_HOME", s.root)
	t.Setenv("STUB_OUT", s.out)
	t.Setenv("BUN_INSTALL", filepath.Join(t.TempDir(), "no-bun"))
	t.Setenv("NPM_CONFIG_PREFIX", "")
	t.Setenv("NOTIFY_SOCKET", "/run/should-not-reach-vault")
	writeFile(t, filepath.Join(s.root, "services.json"),
		`{"services":[{"name":"parachute-vault","port":1940,"paths":["/vault/default"],"health":"/vault/default/health","version":"1.0.0"}]}`)
	writeFile(t, filepath.Join(s.root, "vault", ".env"), "# wiring\nSCRIBE_URL=http://127.0.0.1:1953\nPORT=1\n")
	writeFile(t, filepath.Join(s.root, "operator.token"), "not-a-real-token\n")
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/hub" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://hub.example"})
	}))
	t.Cleanup(hub.Close)
	t.Setenv("PARACHUTE_HUB_URL", hub.URL)
	if onPath {
		writeExec(t, filepath.Join(s.stubDir, "parachute-vault"), stubVault)
	}
	t.Setenv("PATH", s.stubDir+string(os.PathListSeparator)+"/usr/bin:/bin")
	return s
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeExec(t *testing.T, path, s string) {
	t.Helper()
	writeFile(t, path, s)
	if err := os.Chmod(path, 0o700); err != nil {
		t.Fatal(err)
	}
}

func (s vaultSetup) args(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.out, "args"))
	if err != nil {
		t.Fatalf("the stub did not run: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func (s vaultSetup) env(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.out, "env"))
	if err != nil {
		t.Fatalf("the stub did not run: %v", err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func TestVaultForwarder(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     string // STUB_CODE
		signal   string // STUB_SIGNAL
		wantCode int
	}{
		{name: "help is vault's", args: []string{"--help"}, wantCode: 0},
		{name: "tokens create verbatim", args: []string{"tokens", "create", "--scope", "vault:default:read", "-n", "5", "--", "-x", "a b"}, wantCode: 0},
		{name: "exit code kept", args: []string{"status"}, code: "3", wantCode: 3},
		{name: "signal is 128+n", args: []string{"serve"}, signal: "TERM", wantCode: 128 + 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := setupVault(t, true)
			t.Setenv("STUB_CODE", tt.code)
			t.Setenv("STUB_SIGNAL", tt.signal)
			var out, errOut bytes.Buffer
			code := Main(context.Background(), append([]string{"vault"}, tt.args...), &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut.String())
			}
			if diff := cmp.Diff(tt.args, s.args(t)); diff != "" {
				t.Errorf("parachute-vault's arguments (-want +got):\n%s", diff)
			}
			if out.String() != "vault says hi\n" || errOut.String() != "vault warns\n" {
				t.Errorf("stdio not passed through: stdout %q, stderr %q", out.String(), errOut.String())
			}
		})
	}
}

func TestVaultForwarderEnvironment(t *testing.T) {
	s := setupVault(t, true)
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"vault", "tokens", "list"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	env := s.env(t)
	want := map[string]string{
		"PARACHUTE_HOME":       s.root,
		"PARACHUTE_HUB_ORIGIN": "https://hub.example", // from the running hub
		"PORT":                 "1940",                // services.json's, not the .env's
		"SCRIBE_URL":           "http://127.0.0.1:1953",
		"NOTIFY_SOCKET":        "",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if !strings.HasPrefix(env["PATH"], s.stubDir) {
		t.Errorf("PATH = %q, want the caller's PATH", env["PATH"])
	}
}

func TestVaultForwarderNotFound(t *testing.T) {
	setupVault(t, false)
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"vault", "--version"}, &out, &errOut)
	if code != 127 {
		t.Errorf("exit code %d, want 127", code)
	}
	want := "parachute-vault not found on PATH.\nInstall it with: parachute install vault\n"
	if errOut.String() != want {
		t.Errorf("stderr (-want +got):\n%s", cmp.Diff(want, errOut.String()))
	}
}

// TestVaultForwarderPrefersInstallDir checks that the bin the installed
// package declares wins over another parachute-vault on PATH.
func TestVaultForwarderPrefersInstallDir(t *testing.T) {
	s := setupVault(t, true)
	pkg := filepath.Join(t.TempDir(), "vault-pkg")
	writeFile(t, filepath.Join(pkg, "package.json"), `{"name":"@openparachute/vault","version":"1.0.0","bin":{"parachute-vault":"bin/cli.sh"}}`)
	writeExec(t, filepath.Join(pkg, "bin", "cli.sh"), "#!/bin/sh\necho installed > \"$STUB_OUT/args\"\n")
	writeFile(t, filepath.Join(s.root, "services.json"),
		`{"services":[{"name":"parachute-vault","port":1940,"paths":["/vault/default"],"health":"/vault/default/health","version":"1.0.0","installDir":"`+pkg+`"}]}`)
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"vault", "x"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if diff := cmp.Diff([]string{"installed"}, s.args(t)); diff != "" {
		t.Errorf("ran the wrong parachute-vault (-want +got):\n%s", diff)
	}
}

func TestPackageBin(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ pkg, want string }{
		{`{"name":"@openparachute/vault","bin":{"parachute-vault":"./src/cli.ts"}}`, filepath.Join(dir, "src", "cli.ts")},
		{`{"name":"parachute-vault","bin":"cli.js"}`, filepath.Join(dir, "cli.js")},
		{`{"name":"@openparachute/vault","bin":"cli.js"}`, ""}, // a string bin is named "vault"
		{`{"name":"x","bin":{"parachute-vault":"../../etc/evil"}}`, ""},
		{`{"name":"x","bin":{"parachute-vault":"/abs"}}`, ""},
		{`{"name":"x"}`, ""},
		{`not json`, ""},
	} {
		writeFile(t, filepath.Join(dir, "package.json"), c.pkg)
		if got := packageBin(dir, "parachute-vault"); got != c.want {
			t.Errorf("packageBin(%s) = %q, want %q", c.pkg, got, c.want)
		}
	}
}

func TestPermuteFlagsVaultAndScribe(t *testing.T) {
	cases := []struct{ in, want []string }{
		// vault's arguments are parachute-vault's, in their order.
		{[]string{"vault", "tokens", "create", "--scope", "x", "-n", "5"}, []string{"vault", "tokens", "create", "--scope", "x", "-n", "5"}},
		{[]string{"vault", "--help"}, []string{"vault", "--help"}},
		// --scribe-provider and --scribe-key take values.
		{[]string{"install", "scribe", "--scribe-provider", "groq", "--scribe-key", "k"},
			[]string{"install", "--scribe-provider", "groq", "--scribe-key", "k", "scribe"}},
	}
	for _, c := range cases {
		if d := cmp.Diff(c.want, permuteFlags(c.in)); d != "" {
			t.Errorf("permuteFlags(%q) (-want +got):\n%s", c.in, d)
		}
	}
}

// TestVaultForwarderPassesSIGTERM checks that a SIGTERM sent to parachute
// alone (a service manager, kill) reaches parachute-vault, and that the
// forwarder reports vault's death by it as 128+15.
func TestVaultForwarderPassesSIGTERM(t *testing.T) {
	s := setupVault(t, false)
	fifo := filepath.Join(s.out, "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	writeExec(t, filepath.Join(s.stubDir, "parachute-vault"), "#!/bin/sh\necho ready > \"$STUB_OUT/ready\"\nexec sleep 1000\n")
	codec := make(chan int, 1)
	go func() {
		var out, errOut bytes.Buffer
		codec <- Main(context.Background(), []string{"vault", "serve"}, &out, &errOut)
	}()
	// The child writes to the FIFO only after the forwarder has started it
	// (and so has registered for signals): reading it is the handshake.
	if _, err := os.ReadFile(fifo); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := <-codec; code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d, want %d", code, 128+int(syscall.SIGTERM))
	}
}

// TestVaultForwarderRunsAsTheRootsOwner: run as root against a config root
// another user owns (the container's volume, the system package's
// /var/lib/parachute), parachute-vault runs as that user, so the files it
// creates stay writable by the vault the hub runs.
func TestVaultForwarderRunsAsTheRootsOwner(t *testing.T) {
	testenv.NeedRoot(t, "switching to the config root's owner needs root")
	const uid, gid = 65534, 65534 // nobody
	s := setupVault(t, false)
	// The stub and its output directory must be reachable by that user:
	// t.TempDir's parent is 0700.
	dir, err := os.MkdirTemp("", "vault-owner-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	writeExec(t, filepath.Join(dir, "bin", "parachute-vault"), "#!/bin/sh\nid -u > \"$STUB_OUT/uid\"\nid -G > \"$STUB_OUT/groups\"\n")
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "bin"), filepath.Join(dir, "bin", "parachute-vault"), out, s.root} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("STUB_OUT", out)
	t.Setenv("PATH", filepath.Join(dir, "bin")+string(os.PathListSeparator)+"/usr/bin:/bin")

	var stdout, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"vault", "whoami"}, &stdout, &errOut); code != 0 {
		t.Fatalf("vault whoami = %d: %s", code, errOut.String())
	}
	for file, want := range map[string]string{"uid": "65534", "groups": "65534"} {
		b, err := os.ReadFile(filepath.Join(out, file))
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("parachute-vault's %s = %q, %v; want %s", file, b, err, want)
		}
	}
}
