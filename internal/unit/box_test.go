package unit

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"

	"github.com/google/go-cmp/cmp"
)

// TestSystemdRunsRenderedUnit is the real round trip: systemd 252 loads a
// rendered system unit whose config root, PATH and BUN_INSTALL hold spaces,
// quotes, '%', '$' and backslashes (the program path: what systemd allows
// there, spaces, '%' and ';'), and runs it as nobody
// under the unit's sandbox. The program records the argv, environment and
// working directory it got, inside the config root (which also proves
// ReadWritePaths= made it writable under ProtectSystem=strict).
func TestSystemdRunsRenderedUnit(t *testing.T) {
	hostDir := t.TempDir()
	if err := os.Chmod(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The box sees hostDir at boxDir: outside /tmp, which PrivateTmp hides.
	const boxDir = "/srv/unit-test"
	onHost := func(boxPath string) string { return hostDir + strings.TrimPrefix(boxPath, boxDir) }

	binary := boxDir + `/bin %d ;x/parachute`
	root := boxDir + `/r o%o's "q" \x $y/.parachute`
	bun := boxDir + "/b$un"
	for _, d := range []string{filepath.Dir(binary), root, bun + "/bin"} {
		if err := os.MkdirAll(onHost(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// nobody writes its record into the root.
	if err := os.Chmod(onHost(root), 0o777); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nset -e\nout=" + shellQuote(root) + `
for a in "$0" "$@"; do printf '%s\n' "$a"; done > "$out/argv"
env -0 > "$out/env"
pwd -P > "$out/cwd"
: > "$out/done.tmp" && mv "$out/done.tmp" "$out/done"
`
	if err := os.WriteFile(onHost(binary), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	s, err := HubService(HubOptions{
		Binary:     binary,
		Root:       root,
		Scope:      ScopeSystem,
		User:       "nobody",
		PATH:       "/usr/bin:" + boxDir + `/we"ird %dir $x:rel`,
		BunInstall: bun,
		LookPath:   func(string) (string, error) { return "", exec.ErrNotFound },
		Exists:     func(p string) bool { _, err := os.Stat(onHost(p)); return err == nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	text, err := RenderSystemd(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, SystemdName), text, 0o644); err != nil {
		t.Fatal(err)
	}

	// Inside the box: install, load, start without waiting for READY (the
	// stand-in never sends it), and poll for the record with a deadline.
	inBox := `set -e
cp /srv/unit-test/parachute-hub.service /etc/systemd/system/
systemctl daemon-reload
systemd-analyze verify /etc/systemd/system/parachute-hub.service > /srv/unit-test/verify 2>&1 || true
systemctl show -p LoadState -p LoadError parachute-hub.service > /srv/unit-test/show
systemctl start --no-block parachute-hub.service || true
i=0
while [ ! -e "$ROOT/done" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
journalctl -b --no-pager > /srv/unit-test/journal 2>&1 || true
`
	box := testenv.BootBox(t, hostDir+":"+boxDir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := box.Run(ctx, "env", "ROOT="+root, "sh", "-c", inBox)
	journal, _ := os.ReadFile(filepath.Join(hostDir, "journal"))
	if err != nil {
		t.Fatalf("systemd-box: %v\n%s\njournal:\n%s", err, out, journal)
	}
	// PID 1 logs parse warnings to the box's console, not the journal, so
	// ask the box's own systemd-analyze about the installed file.
	verify, _ := os.ReadFile(filepath.Join(hostDir, "verify"))
	for _, line := range strings.Split(strings.TrimSpace(string(verify)), "\n") {
		if line != "" && !strings.Contains(line, "Special user nobody") {
			t.Errorf("systemd-analyze in the box: %s", line)
		}
	}
	show, _ := os.ReadFile(filepath.Join(hostDir, "show"))
	if !bytes.Contains(show, []byte("LoadState=loaded")) {
		t.Errorf("unit did not load: %s", show)
	}
	if _, err := os.Stat(filepath.Join(onHost(root), "done")); err != nil {
		t.Fatalf("the unit's program left no record (%v); unit:\n%s\njournal:\n%s", err, text, journal)
	}

	argv, err := os.ReadFile(filepath.Join(onHost(root), "argv"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Argv, strings.Split(strings.TrimSuffix(string(argv), "\n"), "\n")); diff != "" {
		t.Errorf("argv systemd ran (-want +got):\n%s", diff)
	}
	envData, err := os.ReadFile(filepath.Join(onHost(root), "env"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range strings.Split(string(envData), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			got[k] = v
		}
	}
	for _, e := range s.Env {
		if got[e.Name] != e.Value {
			t.Errorf("%s systemd set = %q, want %q", e.Name, got[e.Name], e.Value)
		}
	}
	if got["USER"] != "nobody" {
		t.Errorf("USER = %q, want nobody (User=)", got["USER"])
	}
	cwd, err := os.ReadFile(filepath.Join(onHost(root), "cwd"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSuffix(string(cwd), "\n") != root {
		t.Errorf("working directory = %q, want %q", cwd, root)
	}
}

// shellQuote quotes s for sh as one single-quoted word.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
