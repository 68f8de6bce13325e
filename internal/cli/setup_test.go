package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/testenv"
)

func TestParseSetupPicks(t *testing.T) {
	var offered []manifest.Known
	for _, s := range []string{"channel", "notes", "scribe"} {
		k, _ := manifest.KnownByShort(s)
		offered = append(offered, k)
	}
	installed := map[string]bool{"vault": true}
	tests := []struct {
		ans     string
		want    []string
		wantErr string
	}{
		{ans: "", want: []string{"channel", "notes", "scribe"}},
		{ans: "ALL", want: []string{"channel", "notes", "scribe"}},
		{ans: "3, 1", want: []string{"scribe", "channel"}},
		{ans: "Scribe 3,,scribe", want: []string{"scribe"}},
		{ans: "4", wantErr: `out-of-range index "4" (offered 1..3)`},
		{ans: "0", wantErr: `out-of-range index "0"`},
		{ans: "banana", wantErr: `unknown service "banana"`},
		{ans: "vault", wantErr: `"vault" is already installed`},
		{ans: " , ", wantErr: "no services picked — try again"},
		{ans: "Q", wantErr: "quit"},
	}
	for _, tt := range tests {
		got, err := parseSetupPicks(tt.ans, offered, installed)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseSetupPicks(%q) = %v, %v; want error %q", tt.ans, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseSetupPicks(%q): %v", tt.ans, err)
		} else if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("parseSetupPicks(%q) (-want +got):\n%s", tt.ans, d)
		}
	}
}

// TestSetupWithoutATerminal: setup says what is installed and refuses
// without a terminal; with everything installed there is nothing to ask,
// terminal or not.
func TestSetupWithoutATerminal(t *testing.T) {
	root := accountsRoot(t) // stdin is /dev/null
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"setup"}, &out, &errOut); code != ExitFail ||
		!strings.Contains(errOut.String(), "Non-interactive shell — `parachute setup` needs a TTY") {
		t.Errorf("setup without a terminal = %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	if code := Main(context.Background(), []string{"setup", "vault"}, &out, &errOut); code != ExitUsage {
		t.Errorf("setup vault = %d; want %d", code, ExitUsage)
	}

	var rows []manifest.Service
	for i, k := range manifest.KnownModules() {
		rows = append(rows, manifest.Service{Name: k.ManifestName, Port: 1940 + i, Paths: k.Paths, Health: k.Paths[0] + "/health", Version: "1.0.0"})
	}
	data, err := (&manifest.File{Services: rows}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "services.json"), string(data))
	out.Reset()
	if code := Main(context.Background(), []string{"setup"}, &out, &errOut); code != ExitOK ||
		!strings.Contains(out.String(), "Already installed:\n  ✓ vault\n") ||
		!strings.Contains(out.String(), "All known services are already installed. Nothing to do.") {
		t.Errorf("setup with everything installed = %d\n%s", code, out.String())
	}
}

// TestSetupOnATerminal drives setup on a pseudo-terminal: it asks which
// modules, then vault's name (re-asking after a bad one) and scribe's
// provider and hidden key, all before the first install; each pick is
// installed with those answers and the shared flags; a failed install
// does not stop the next, and the exit code is the first failure's.
func TestSetupOnATerminal(t *testing.T) {
	root := accountsRoot(t)
	var calls []installArgs
	old := setupInstall
	t.Cleanup(func() { setupInstall = old })
	setupInstall = func(e *env, _ context.Context, a installArgs) error {
		calls = append(calls, a)
		if a.arg == "channel" {
			return fail(3, "✗ channel: npm said no")
		}
		return nil
	}

	// Typed ahead; the terminal hands each read one line.
	code, shown, errOut := runOnPTY(t, "banana\nvault, 2 scribe\n-bad\nwork\ngroq\ngsk_hidden\n", "setup", "--tag", "rc", "--no-start")

	if code != 3 || !strings.Contains(errOut.String(), "✗ channel: npm said no") ||
		!strings.Contains(errOut.String(), "One or more installs returned a non-zero exit code (3)") {
		t.Errorf("setup = %d; stderr:\n%s", code, errOut.String())
	}
	groq := &scribeChoice{provider: "groq", key: "gsk_hidden"}
	want := []installArgs{
		{arg: "vault", tag: "rc", noStart: true, vaultName: "work"},
		{arg: "channel", tag: "rc", noStart: true},
		{arg: "scribe", tag: "rc", noStart: true, scribeAsked: groq},
	}
	if d := cmp.Diff(want, calls, cmp.AllowUnexported(installArgs{}, scribeChoice{})); d != "" {
		t.Errorf("installs (-want +got):\n%s", d)
	}
	for _, w := range []string{`unknown service "banana"`, "  [1] vault    — Your owner-authenticated MCP knowledge store.",
		"vault name must be", "vault — name (default: default): ", "Which transcription provider should scribe use?", "— scribe —"} {
		if !strings.Contains(shown.String(), w) {
			t.Errorf("the terminal did not show %q:\n%s", w, shown.String())
		}
	}
	if _, err := os.Stat(filepath.Join(root, "services.json")); err == nil {
		t.Error("setup itself wrote services.json")
	}
}

// TestSetupSummary: after the picks install, setup lists each with its URL.
func TestSetupSummary(t *testing.T) {
	root := accountsRoot(t)
	old := setupInstall
	t.Cleanup(func() { setupInstall = old })
	setupInstall = func(e *env, _ context.Context, a installArgs) error {
		k, _ := manifest.KnownByShort(a.arg)
		data, _ := json.Marshal(map[string]any{"services": []map[string]any{{"name": k.ManifestName, "port": 1943,
			"paths": []string{"/scribe/"}, "health": "/scribe/health", "version": "1.0.0"}}})
		writeFile(t, filepath.Join(root, "services.json"), string(data))
		return nil
	}
	code, shown, errOut := runOnPTY(t, "scribe\ns\n", "setup")
	if code != ExitOK || !strings.Contains(shown.String(), "Setup complete.\n  ✓ parachute-scribe — http://127.0.0.1:1943/scribe\n") {
		t.Errorf("setup = %d, stderr %s\n%s", code, errOut.String(), shown.String())
	}
}

// TestSetupQuit: "q" at the first question installs nothing.
func TestSetupQuit(t *testing.T) {
	accountsRoot(t)
	old := setupInstall
	t.Cleanup(func() { setupInstall = old })
	setupInstall = func(*env, context.Context, installArgs) error {
		t.Error("setup installed after q")
		return nil
	}
	master, slave := testenv.OpenPTY(t)
	stdin = slave
	drained := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, master); close(drained) }()
	if _, err := master.WriteString("q\n"); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	code := Main(context.Background(), []string{"setup"}, slave, &errOut)
	slave.Close()
	<-drained
	if code != ExitFail || !strings.Contains(errOut.String(), "Aborted: nothing was installed.") {
		t.Errorf("setup, q = %d: %s", code, errOut.String())
	}
}

// runOnPTY runs the CLI with args, its stdin and stdout on a terminal
// where typed was typed ahead, and returns its exit code, everything the
// terminal showed, and stderr.
func runOnPTY(t *testing.T, typed string, args ...string) (code int, shown, errOut *bytes.Buffer) {
	t.Helper()
	master, slave := testenv.OpenPTY(t)
	stdin = slave
	shown, errOut = &bytes.Buffer{}, &bytes.Buffer{}
	drained := make(chan struct{})
	go func() { _, _ = io.Copy(shown, master); close(drained) }()
	if _, err := master.WriteString(typed); err != nil {
		t.Fatal(err)
	}
	code = Main(context.Background(), args, slave, errOut)
	slave.Close() // ends the drain: the master reads EIO once no slave is open
	<-drained
	return code, shown, errOut
}
