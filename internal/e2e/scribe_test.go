package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
)

// scribeFixtureBun is testenv.Bun, under the name this package's tests
// (and branches in flight) call.
func scribeFixtureBun(t *testing.T) string { return testenv.Bun(t) }

// TestScribeInstallWiresVault installs the scribe-like fixture
// (testdata/modules/scribe, packed by npm, installed by bun from the
// tarball) next to a running vault stand-in, with a provider and key on
// the command line, and checks: scribe's first boot already read its
// provider, key and auth token; vault's .env has the token and scribe's
// real port; vault was restarted by the hub to read them; the key
// appears in no output, log or child argv.
func TestScribeInstallWiresVault(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		testenv.Unavailable(t, "needs npm (npm pack): %v", err)
	}
	bunBin := scribeFixtureBun(t)
	bunHome := t.TempDir()
	// The vault stand-in: the first-party vault runs `parachute-vault
	// serve`, and testmod serves any …/health.
	stubs := t.TempDir()
	if err := os.Symlink(testmodBin, filepath.Join(stubs, "parachute-vault")); err != nil {
		t.Fatal(err)
	}
	h := newHome(t)
	h.extraEnv = []string{"BUN_INSTALL=" + bunHome, "npm_config_update_notifier=false",
		"PATH=" + strings.Join([]string{filepath.Join(bunHome, "bin"), bunBin, stubs, os.Getenv("PATH")}, string(os.PathListSeparator))}
	vaultPort, scribePort := freePort(t), freePort(t)
	writeJSON(t, filepath.Join(h.root, "services.json"), map[string]any{"services": []map[string]any{{
		"name": "parachute-vault", "port": vaultPort, "paths": []string{"/vault/default"},
		"health": "/vault/default/health", "version": "1.0.0"}}})
	h.start()
	// The hub answers /health while its modules still start: wait for
	// vault's probe to pass (reading it at once failed as "pending").
	var before modVersion
	waitFor(t, "the vault stand-in to be active", 15*time.Second, func() bool {
		before = h.modules()["parachute-vault"]
		return before.State == "active" && before.PID != nil
	})

	tgz := npmPack(t, filepath.Join("testdata", "modules", "scribe"), t.TempDir())
	const key = "gsk_e2e-SECRET-7f3a"
	out, errOut, code := h.run("install", tgz, "--port", strconv.Itoa(scribePort), "--scribe-provider", "groq", "--scribe-key", key)
	if code != 0 {
		t.Fatalf("install scribe: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("install output:\n%s", out)
	if !strings.Contains(out, "with bun") || !strings.Contains(out, "scribe 0.1.0-test is running on port "+strconv.Itoa(scribePort)) {
		t.Errorf("install output:\n%s", out)
	}

	// What scribe read at its first boot.
	var boot struct {
		Provider         string `json:"provider"`
		RequiredTokenSet bool   `json:"requiredTokenSet"`
		GroqKeySet       bool   `json:"groqKeySet"`
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(scribePort) + "/boot")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &boot); err != nil {
		t.Fatalf("GET /boot: %v\n%s", err, body)
	}
	if boot.Provider != "groq" || !boot.RequiredTokenSet || !boot.GroqKeySet {
		t.Errorf("scribe's first boot read %+v; want provider groq, a required token and GROQ_API_KEY", boot)
	}

	// The files.
	vaultEnv := readFileString(t, filepath.Join(h.root, "vault", ".env"))
	tok := regexp.MustCompile(`(?m)^SCRIBE_AUTH_TOKEN="([0-9a-f]{64})"$`).FindStringSubmatch(vaultEnv)
	if tok == nil || !strings.Contains(vaultEnv, `SCRIBE_URL="http://127.0.0.1:`+strconv.Itoa(scribePort)+`"`) {
		t.Fatalf("vault/.env:\n%s", vaultEnv)
	}
	var cfg struct {
		Auth struct {
			RequiredToken string `json:"required_token"`
		} `json:"auth"`
		Transcribe struct{ Provider string } `json:"transcribe"`
	}
	if err := json.Unmarshal([]byte(readFileString(t, filepath.Join(h.root, "scribe", "config.json"))), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Auth.RequiredToken != tok[1] || cfg.Transcribe.Provider != "groq" {
		t.Errorf("scribe/config.json = %+v; want the vault token and provider groq", cfg)
	}
	if got := readFileString(t, filepath.Join(h.root, "scribe", ".env")); got != `GROQ_API_KEY="`+key+`"`+"\n" {
		t.Errorf("scribe/.env = %q", got)
	}

	// Vault was restarted through the hub to read its new .env.
	after := h.modules()["parachute-vault"]
	if after.State != "active" || after.PID == nil || *after.PID == *before.PID {
		t.Errorf("vault after the wiring: %+v (pid before %d); want restarted and active", after, *before.PID)
	}

	// The key is a secret: not in the operation log the CLI printed, the
	// hub's log, the modules' logs, or any module's argv.
	logs := out + errOut + h.out.String()
	for _, short := range []string{"vault", "scribe"} {
		if b, err := os.ReadFile(filepath.Join(h.root, short, "logs", short+".log")); err == nil {
			logs += string(b)
		}
	}
	if strings.Contains(logs, key) {
		t.Errorf("the scribe key appears in the output or logs")
	}
	if strings.Contains(logs, tok[1]) {
		t.Errorf("the vault↔scribe token appears in the output or logs")
	}
	for _, m := range h.modules() {
		if m.PID == nil {
			continue
		}
		if argv, err := os.ReadFile("/proc/" + strconv.Itoa(*m.PID) + "/cmdline"); err == nil && strings.Contains(string(argv), key) {
			t.Errorf("%s's argv holds the scribe key", m.Name)
		}
	}
}

func readFileString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
