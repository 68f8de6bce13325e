package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/testenv"
)

// bunDir is testenv.Bun, under the name this file's tests (and branches
// in flight) call.
func bunDir(t *testing.T) string { return testenv.Bun(t) }

// vaultHome is a hub whose modules install with bun into a temp
// $BUN_INSTALL (its bin on the hub's PATH, where the supervisor finds
// parachute-vault), with a fixed origin, plus the vault fixture packed by
// npm.
func vaultHome(t *testing.T) (*hubEnv, string) {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		testenv.Unavailable(t, "needs npm to pack the vault fixture: %v", err)
	}
	bun := bunDir(t)
	bunHome := t.TempDir()
	h := newHome(t)
	h.extraEnv = []string{"BUN_INSTALL=" + bunHome, "PARACHUTE_HUB_ORIGIN=https://hub.example.test",
		"PATH=" + bun + string(os.PathListSeparator) + filepath.Join(bunHome, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")}
	dest := t.TempDir()
	cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", dest)
	cmd.Dir = filepath.Join("testdata", "modules", "vault")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("npm pack the vault fixture: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return h, filepath.Join(dest, strings.TrimSpace(lines[len(lines)-1]))
}

// fixtureCalls reads what the vault fixture recorded of its init and
// create runs.
func fixtureCalls(t *testing.T, root string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "vault-fixture-calls.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c map[string]any
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	return calls
}

// TestVaultInstances drives the vault story through the real binary: `parachute
// install <fixture.tgz> --vault-name work` runs the fixture's init inside
// the hub with the module's environment and no unit install, and the
// vault is served through the hub; POST /vaults adds a second vault that
// the restarted vault serves; discovery and status list both; the vault
// admin token is for aud vault.<name> and lives 5 minutes.
func TestVaultInstances(t *testing.T) {
	h, tgz := vaultHome(t)
	h.start()
	port := freePort(t)
	out := h.mustRun("install", tgz, "--port", strconv.Itoa(port), "--vault-name", "work")
	for _, w := range []string{"Running parachute-vault init --no-autostart --no-mcp --vault-name work…", `Creating vault "work"...`,
		"vault 0.3.6-fixture.1 is running on port " + strconv.Itoa(port)} {
		if !strings.Contains(out, w) {
			t.Fatalf("install output lacks %q:\n%s", w, out)
		}
	}
	want := []map[string]any{{"cmd": "init", "argv": []any{"--no-autostart", "--no-mcp", "--vault-name", "work"},
		"env": map[string]any{"PARACHUTE_HOME": h.root, "PARACHUTE_HUB_ORIGIN": "https://hub.example.test", "PORT": strconv.Itoa(port)}}}
	if d := cmp.Diff(want, fixtureCalls(t, h.root)); d != "" {
		t.Errorf("init calls (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(h.root, "vault", "unit-install-attempted")); err == nil {
		t.Error("vault's init tried to install its own unit")
	}
	if code, err := httpGet(h.url("/vault/work/health")); err != nil || code != 200 {
		t.Fatalf("GET /vault/work/health through the hub = %d, %v", code, err)
	}

	// A second vault.
	req, _ := http.NewRequest("POST", h.url("/vaults"), strings.NewReader(`{"name":"notes"}`))
	req.Header.Set("Authorization", "Bearer "+h.token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var created struct {
		Name, URL, Version string
		Token              *string
		Paths              map[string]string
	}
	if err := json.Unmarshal(body, &created); err != nil || resp.StatusCode != 201 || created.URL != "https://hub.example.test/vault/notes" ||
		created.Token == nil || created.Paths["vault_dir"] != filepath.Join(h.root, "vault", "notes") {
		t.Fatalf("POST /vaults = %d %s", resp.StatusCode, body)
	}
	if code, err := httpGet(h.url("/vault/notes/health")); err != nil || code != 200 {
		t.Fatalf("GET /vault/notes/health through the hub after POST /vaults = %d, %v", code, err)
	}

	// Discovery and status list both.
	code, b := h.api("GET", "/.well-known/parachute.json", nil)
	var doc struct {
		Vaults []struct{ Name, URL string } `json:"vaults"`
	}
	if err := json.Unmarshal(b, &doc); code != 200 || err != nil {
		t.Fatalf("discovery = %d %s", code, b)
	}
	var names []string
	for _, v := range doc.Vaults {
		names = append(names, v.Name+" "+v.URL)
	}
	if d := cmp.Diff([]string{"work https://hub.example.test/vault/work", "notes https://hub.example.test/vault/notes"}, names); d != "" {
		t.Errorf("discovery vaults (-want +got):\n%s", d)
	}
	sout, _, _ := h.run("status", "--json")
	var st struct {
		Modules []struct{ Name, Vault, URL, State string } `json:"modules"`
	}
	if err := json.Unmarshal([]byte(sout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, sout)
	}
	var rows []string
	for _, m := range st.Modules {
		rows = append(rows, m.Name+" "+m.Vault+" "+m.URL+" "+m.State)
	}
	p := strconv.Itoa(port)
	if d := cmp.Diff([]string{"parachute-vault work http://127.0.0.1:" + p + "/vault/work/mcp active",
		"parachute-vault notes http://127.0.0.1:" + p + "/vault/notes/mcp active"}, rows); d != "" {
		t.Errorf("status rows (-want +got):\n%s", d)
	}

	// The vault admin token.
	code, b = h.api("GET", "/admin/vault-admin-token/notes", nil)
	var tok struct{ Token string }
	if err := json.Unmarshal(b, &tok); code != 200 || err != nil {
		t.Fatalf("vault-admin-token = %d %s", code, b)
	}
	parts := strings.Split(tok.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok.Token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud      any    `json:"aud"`
		Scope    string `json:"scope"`
		Iat, Exp int64
		Iss      string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Aud != "vault.notes" || claims.Scope != "vault:notes:admin" || claims.Exp-claims.Iat != 300 || claims.Iss != "https://hub.example.test" {
		t.Errorf("vault admin token claims = %+v", claims)
	}

	// Module config: the fixture's configSchema is served; a PUT that
	// breaks it is refused with each path and writes nothing; a good one
	// lands in vault/config.json (0600) and restarts vault, which still
	// serves both vaults.
	code, b = h.api("GET", "/api/modules/vault/config/schema", nil)
	if code != 200 || !strings.Contains(string(b), `"transcription_sweep_ms"`) {
		t.Fatalf("config schema = %d %s", code, b)
	}
	cfgFile := filepath.Join(h.root, "vault", "config.json")
	code, b = h.putJSON("/api/modules/vault/config", `{"default_vault":"no spaces","transcription_sweep_ms":5}`)
	var refused struct {
		Error  string `json:"error"`
		Errors []struct {
			InstancePath string `json:"instance_path"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(b, &refused)
	var bad []string
	for _, e := range refused.Errors {
		bad = append(bad, e.InstancePath)
	}
	if code != 400 || refused.Error != "invalid_config" || !cmp.Equal(bad, []string{"/default_vault", "/transcription_sweep_ms"}) {
		t.Errorf("bad config PUT = %d %s", code, b)
	}
	if _, err := os.Stat(cfgFile); err == nil {
		t.Error("a refused config PUT wrote config.json")
	}
	pidBefore := h.modulePID("vault")
	code, b = h.putJSON("/api/modules/vault/config", `{"default_vault":"work","transcription_sweep_ms":5000}`)
	var put struct {
		Restarted bool `json:"restarted"`
		PID       int  `json:"pid"`
	}
	if err := json.Unmarshal(b, &put); code != 200 || err != nil || !put.Restarted || put.PID == pidBefore {
		t.Fatalf("good config PUT = %d %s (pid before %d)", code, b, pidBefore)
	}
	if fi, err := os.Stat(cfgFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("vault/config.json after PUT: %v, %v", fi, err)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(readFileString(t, cfgFile)), &cfg); err != nil || cfg["default_vault"] != "work" || cfg["transcription_sweep_ms"] != 5000.0 {
		t.Errorf("vault/config.json = %v, %v", cfg, err)
	}
	for _, v := range []string{"work", "notes"} {
		if code, err := httpGet(h.url("/vault/" + v + "/health")); err != nil || code != 200 {
			t.Errorf("GET /vault/%s/health after the config restart = %d, %v", v, code, err)
		}
	}
}

// putJSON sends a JSON PUT with the operator token.
func (h *hubEnv) putJSON(path, body string) (int, []byte) {
	h.t.Helper()
	return h.send("PUT", path, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
}

// modulePID is a module's pid from GET /api/modules (0 when not running).
func (h *hubEnv) modulePID(short string) int {
	h.t.Helper()
	code, b := h.api("GET", "/api/modules", nil)
	var doc struct {
		Modules []struct {
			Short string `json:"short"`
			PID   *int   `json:"pid"`
		} `json:"modules"`
	}
	if err := json.Unmarshal(b, &doc); code != 200 || err != nil {
		h.t.Fatalf("GET /api/modules = %d %s", code, b)
	}
	for _, m := range doc.Modules {
		if m.Short == short && m.PID != nil {
			return *m.PID
		}
	}
	return 0
}
