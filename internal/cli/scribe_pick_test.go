package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/testenv"
)

func TestPickScribeProvider(t *testing.T) {
	tests := []struct {
		name, answers, key string
		keyErr             error
		want               scribeChoice
		wantOut            string // a substring of the output
	}{
		{name: "empty skips", answers: "\n", want: scribeChoice{}, wantOut: "Leaving scribe at its default"},
		{name: "s skips", answers: " S \n", want: scribeChoice{}},
		{name: "by number, local", answers: "2\n", want: scribeChoice{provider: "onnx-asr"}},
		{name: "by name, cloud with key", answers: "Groq\n", key: " gsk_1 \n", want: scribeChoice{"groq", "gsk_1"}, wantOut: "Paste your GROQ_API_KEY"},
		{name: "cloud, key skipped", answers: "5\n", key: "", want: scribeChoice{provider: "openai"}, wantOut: "add OPENAI_API_KEY to scribe/.env later"},
		{name: "cloud, key unreadable", answers: "4\n", keyErr: errors.New("no tty"), want: scribeChoice{provider: "groq"}},
		{name: "retries then picks", answers: "9\nbanana\nwhisper\n", want: scribeChoice{provider: "whisper"}, wantOut: `got "banana"`},
		{name: "gives up after five", answers: "x\nx\nx\nx\nx\n1\n", want: scribeChoice{}, wantOut: "Too many invalid answers"},
		{name: "EOF", answers: "zz", want: scribeChoice{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			got := pickScribeProvider(bufio.NewReader(strings.NewReader(tt.answers)), &out,
				func() (string, error) { return tt.key, tt.keyErr })
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(scribeChoice{})); diff != "" {
				t.Errorf("choice (-want +got):\n%s", diff)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, out.String())
			}
			if tt.key != "" && strings.Contains(out.String(), strings.TrimSpace(tt.key)) {
				t.Errorf("the key was echoed:\n%s", out.String())
			}
		})
	}
}

// TestInstallScribeAsksOnATerminal runs `parachute install <scribe dir>`
// on a pseudo-terminal with the hub down: the picker asks, and the
// choice and the hidden key reach scribe's configuration.
func TestInstallScribeAsksOnATerminal(t *testing.T) {
	root, dir := scribeSource(t)
	master, slave := testenv.OpenPTY(t)
	stdin = slave
	// Typed ahead; the terminal hands each read one line.
	if _, err := master.WriteString("groq\ngsk_typed_key\n"); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	if code := Main(context.Background(), []string{"install", dir}, slave, &errOut); code != ExitOK {
		t.Fatalf("install on a terminal = %d: %s", code, errOut.String())
	}
	cfg, err := os.ReadFile(filepath.Join(root, "scribe", "config.json"))
	if err != nil || !strings.Contains(string(cfg), `"provider": "groq"`) {
		t.Errorf("scribe/config.json = %q, %v", cfg, err)
	}
	env, err := os.ReadFile(filepath.Join(root, "scribe", ".env"))
	if err != nil || string(env) != "GROQ_API_KEY=\"gsk_typed_key\"\n" {
		t.Errorf("scribe/.env = %q, %v", env, err)
	}

	// A second install finds groq configured and does not ask again: had
	// it asked, the "1" typed now would have picked parakeet-mlx.
	if _, err := master.WriteString("1\n"); err != nil {
		t.Fatal(err)
	}
	if code := Main(context.Background(), []string{"install", dir}, slave, &errOut); code != ExitOK {
		t.Fatalf("second install = %d: %s", code, errOut.String())
	}
	if cfg, _ := os.ReadFile(filepath.Join(root, "scribe", "config.json")); !strings.Contains(string(cfg), `"provider": "groq"`) {
		t.Errorf("the second install asked again: scribe/config.json = %q", cfg)
	}
}

// TestInstallScribeKeyFromStdin: `--scribe-key -` takes the key from
// stdin, so it never appears in the process list; the key, not "-",
// reaches scribe/.env.
func TestInstallScribeKeyFromStdin(t *testing.T) {
	root, dir := scribeSource(t)
	keyFile := filepath.Join(t.TempDir(), "key")
	writeFile(t, keyFile, " gsk_piped_key \n")
	f, err := os.Open(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	stdin = f
	var out, errOut bytes.Buffer
	args := []string{"install", "--scribe-provider", "groq", "--scribe-key", "-", dir}
	if code := Main(context.Background(), args, &out, &errOut); code != ExitOK {
		t.Fatalf("install = %d: %s", code, errOut.String())
	}
	env, err := os.ReadFile(filepath.Join(root, "scribe", ".env"))
	if err != nil || string(env) != "GROQ_API_KEY=\"gsk_piped_key\"\n" {
		t.Errorf("scribe/.env = %q, %v", env, err)
	}
	if strings.Contains(out.String()+errOut.String(), "gsk_piped_key") {
		t.Errorf("the key was printed:\n%s%s", out.String(), errOut.String())
	}
}

// scribeSource points the CLI at a fresh root (accountsRoot: no hub,
// stdin restored after) with no bun, and returns it with a local scribe
// checkout to install from.
func scribeSource(t *testing.T) (root, dir string) {
	t.Helper()
	root = accountsRoot(t)
	t.Setenv("BUN_INSTALL", filepath.Join(t.TempDir(), "no-bun"))
	dir = filepath.Join(t.TempDir(), "scribe")
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"@openparachute/scribe","version":"1.0.0"}`)
	writeFile(t, filepath.Join(dir, ".parachute", "module.json"),
		`{"name":"scribe","port":1943,"paths":["/scribe"],"health":"/scribe/health"}`)
	return root, dir
}
