package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
)

// The hub self-upgrade runs against a real systemd in systemd-box: the hub
// unit is installed with `parachute init` from a standalone binary stamped
// 1.0.0, then upgraded through the CLI and through the API, once to a
// healthy binary and once to one that passes the smoke test but cannot
// serve, which must be rolled back.
const (
	upgradeBoxEnv = "PARACHUTE_E2E_UPGRADE_BOX"
	upgradeBoxDir = "/opt/parachute-upgrade"
	upgradeBin    = "/usr/local/bin/parachute"
	upgradeRoot   = "/var/lib/parachute-upgrade"
)

// brokenHub passes `version --json` but exits at once when asked to serve.
const brokenHub = `#!/bin/sh
if [ "$1" = version ]; then echo '{"version": "9.0.0"}'; exit 0; fi
echo "broken build: cannot serve" >&2
exit 1
`

func TestHubSelfUpgradeInBox(t *testing.T) {
	if os.Getenv(upgradeBoxEnv) != "" {
		t.Skip("already inside the box")
	}
	if testing.Short() {
		t.Skip("boots systemd in a box; skipped with -short")
	}
	testenv.NeedRoot(t, "systemd-box boots systemd in new namespaces")
	dir := testenv.SelfDir(t, "e2e.test")
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		cmd := exec.Command("go", "build", "-ldflags", "-X github.com/openparachute/parachute/internal/buildinfo.Version="+v,
			"-o", filepath.Join(dir, "parachute-"+v), "github.com/openparachute/parachute/cmd/parachute")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building parachute %s: %v\n%s", v, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "parachute-broken"), []byte(brokenHub), 0o755); err != nil {
		t.Fatal(err)
	}

	box := testenv.BootBox(t, dir+":"+upgradeBoxDir)
	box.RunTest(t, 4*time.Minute, upgradeBoxDir+"/e2e.test", "TestInBoxHubUpgrade", "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		// inBoxEnv makes TestMain skip building (there is no Go in the box).
		"HOME=/root", upgradeBoxEnv+"=1", inBoxEnv+"=upgrade")
}

// TestInBoxHubUpgrade runs inside the box, as root, started by
// TestHubSelfUpgradeInBox.
func TestInBoxHubUpgrade(t *testing.T) {
	if os.Getenv(upgradeBoxEnv) == "" {
		t.Skip("runs inside systemd-box, started by TestHubSelfUpgradeInBox")
	}
	if err := testenv.CopyFile(filepath.Join(upgradeBoxDir, "parachute-1.0.0"), upgradeBin, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PARACHUTE_HOME="+upgradeRoot)
	run := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, upgradeBin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("parachute %v: %v", args, err)
		}
		return string(out), 0
	}
	sys := rootScope(t, "") // for systemctl on the system unit
	if out, code := run("init"); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	waitFor(t, "hub 1.0.0 healthy", 30*time.Second, func() bool { return hubVersion() == "1.0.0" })

	// CLI: a healthy new binary.
	pid1 := sys.mainPID()
	out, code := run("upgrade", "hub", "--from", filepath.Join(upgradeBoxDir, "parachute-2.0.0"))
	if code != 0 || !strings.Contains(out, "hub upgraded 1.0.0 → 2.0.0 and restarted") {
		t.Fatalf("upgrade hub to 2.0.0: exit %d\n%s", code, out)
	}
	if v := hubVersion(); v != "2.0.0" {
		t.Fatalf("/health reports %q after the upgrade, want 2.0.0", v)
	}
	if p := sys.mainPID(); p == 0 || p == pid1 {
		t.Fatalf("MainPID %d → %d: the unit was not restarted", pid1, p)
	}
	if v := binVersion(t, upgradeBin+".old"); v != "1.0.0" {
		t.Fatalf("kept backup reports %q, want 1.0.0", v)
	}

	// CLI: a binary that cannot serve is rolled back.
	out, code = run("upgrade", "hub", "--from", filepath.Join(upgradeBoxDir, "parachute-broken"))
	if code != 1 || !strings.Contains(out, "rolled back to 2.0.0") {
		t.Fatalf("upgrade hub to a broken binary: exit %d\n%s", code, out)
	}
	if v := hubVersion(); v != "2.0.0" || sys.systemctl("is-active", "parachute-hub.service") != "active" {
		t.Fatalf("after the rollback: /health %q, unit %s", v, sys.systemctl("is-active", "parachute-hub.service"))
	}
	if v := binVersion(t, upgradeBin); v != "2.0.0" {
		t.Fatalf("installed binary reports %q after the rollback, want 2.0.0", v)
	}
	// Each of these restarts counts against the unit's StartLimitBurst;
	// an operator does not upgrade six times in five minutes.
	sys.systemctl("reset-failed", "parachute-hub.service")

	// API: the same through POST /api/hub/upgrade and its status file.
	tok, err := os.ReadFile(filepath.Join(upgradeRoot, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	for _, tc := range []struct{ from, phase, version string }{
		{"parachute-3.0.0", "succeeded", "3.0.0"},
		{"parachute-broken", "rolled-back", "3.0.0"},
	} {
		code, body := hubAPI(t, token, http.MethodPost, "/api/hub/upgrade", fmt.Sprintf(`{"from": %q}`, filepath.Join(upgradeBoxDir, tc.from)))
		if code != http.StatusAccepted {
			t.Fatalf("POST /api/hub/upgrade (%s) = %d %s", tc.from, code, body)
		}
		var st struct {
			Phase string   `json:"phase"`
			Log   []string `json:"log"`
		}
		var last []byte
		for deadline := time.Now().Add(90 * time.Second); ; {
			code, body := hubAPI(t, token, http.MethodGet, "/api/hub/upgrade/status", "")
			if code == 200 && json.Unmarshal(body, &st) == nil && st.Phase != "pending" && st.Phase != "running" && st.Phase != "restarting" {
				break // else the hub is restarting, or the upgrade runs
			}
			last = body
			if time.Now().After(deadline) {
				journal, _ := exec.Command("journalctl", "-n", "40", "--no-pager").CombinedOutput()
				t.Fatalf("upgrade to %s did not finish in 90s; last status:\n%s\njournal:\n%s", tc.from, last, journal)
			}
			time.Sleep(250 * time.Millisecond) // poll interval
		}
		if st.Phase != tc.phase {
			t.Fatalf("upgrade from %s ended %s, want %s; log:\n%s", tc.from, st.Phase, tc.phase, strings.Join(st.Log, "\n"))
		}
		waitFor(t, "hub "+tc.version+" healthy", 30*time.Second, func() bool { return hubVersion() == tc.version })
	}
}

// hubVersion is the version /health reports on 1939, "" when it does not answer.
func hubVersion() string {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://127.0.0.1:1939/health")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var h struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&h) != nil {
		return ""
	}
	return h.Version
}

func binVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s version --json: %v", bin, err)
	}
	var v struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(out, &v)
	return v.Version
}

func hubAPI(t *testing.T, token, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1:1939"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
