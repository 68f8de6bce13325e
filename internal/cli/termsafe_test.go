package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/openparachute/parachute/internal/testenv"
)

func TestTermSafeWriter(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"plain", "hello\tworld\n", "hello\tworld\n"},
		{"utf8 kept", "naïve ☃ 𝄞\n", "naïve ☃ 𝄞\n"},
		{"CSI clear screen", "\x1b[2J\x1b[Hgone\n", `\x1b[2J\x1b[Hgone` + "\n"},
		{"OSC 52 clipboard", "\x1b]52;c;cm0gLXJmIH4=\x07\n", `\x1b]52;c;cm0gLXJmIH4=\x07` + "\n"},
		{"carriage return overwrite", "ok\rFAKE\n", `ok\x0dFAKE` + "\n"},
		{"NUL and DEL", "a\x00b\x7f\n", `a\x00b\x7f` + "\n"},
		{"C1 CSI", "a\u009b2Jb\n", `a\u009b2Jb` + "\n"},
		{"invalid byte", "a\xffb\n", `a\xffb` + "\n"},
		{"truncated sequence at end", "a\xe2\x82", `a\xe2\x82`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The result must not depend on how the input is chunked.
			for split := 0; split <= len(tc.in); split++ {
				var buf bytes.Buffer
				w := newTermSafeWriter(&buf)
				for _, part := range []string{tc.in[:split], tc.in[split:]} {
					if n, err := w.Write([]byte(part)); err != nil || n != len(part) {
						t.Fatalf("Write(%q) = %d, %v", part, n, err)
					}
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				if got := buf.String(); got != tc.want {
					t.Fatalf("split at %d: got %q, want %q", split, got, tc.want)
				}
			}
		})
	}
}

// FuzzTermSafeWriter: whatever a module prints and however it is chunked,
// nothing but printable UTF-8, '\n' and '\t' reaches the terminal.
func FuzzTermSafeWriter(f *testing.F) {
	f.Add([]byte("\x1b]52;c;AAAA\x07\n"), uint8(3))
	f.Add([]byte("a\xe2\x82\xacb\xf0\x9d"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		var whole, chunked bytes.Buffer
		w1 := newTermSafeWriter(&whole)
		w1.Write(in)
		w1.Flush()
		w2 := newTermSafeWriter(&chunked)
		step := int(chunk%7) + 1
		for i := 0; i < len(in); i += step {
			w2.Write(in[i:min(i+step, len(in))])
		}
		w2.Flush()
		if whole.String() != chunked.String() {
			t.Fatalf("chunking changed the output: %q vs %q", whole.String(), chunked.String())
		}
		for _, r := range whole.String() {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0xfffd && !bytes.Contains(in, []byte("\uFFFD")) {
				t.Fatalf("control or invalid rune %U reached the terminal: %q", r, whole.String())
			}
		}
	})
}

// `parachute logs` on a terminal shows a module's escape sequences as text;
// --raw and a non-terminal stdout keep the bytes.
func TestLogsEscapesControlCharactersOnATerminal(t *testing.T) {
	root := t.TempDir()
	t.Setenv("PARACHUTE_HOME", root)
	t.Setenv("PARACHUTE_HUB_URL", "http://127.0.0.1:1") // no hub: read the file
	hostile := "before\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2Jafter\n"
	logDir := filepath.Join(root, "echo", "logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "echo.log"), []byte(hostile), 0o600); err != nil {
		t.Fatal(err)
	}
	services := `{"services":[{"name":"echo","port":45999,"paths":["/echo"],"health":"/echo/health","version":"1.0.0"}]}`
	if err := os.WriteFile(filepath.Join(root, "services.json"), []byte(services), 0o600); err != nil {
		t.Fatal(err)
	}

	run := func(stdout *os.File, args ...string) {
		t.Helper()
		var stderr bytes.Buffer
		if code := Main(context.Background(), append([]string{"logs", "echo"}, args...), stdout, &stderr); code != 0 {
			t.Fatalf("logs exited %d: %s", code, stderr.String())
		}
	}
	// readLine reads one output of `logs` (it ends with "after\n") from
	// the terminal. poll bounds each wait, so a wrong output fails the
	// test instead of hanging it.
	readLine := func(m *os.File) string {
		t.Helper()
		buf := make([]byte, 4096)
		var got []byte
		for !strings.HasSuffix(string(got), "after\n") {
			fds := []unix.PollFd{{Fd: int32(m.Fd()), Events: unix.POLLIN}}
			if n, err := unix.Poll(fds, 5000); err != nil || n == 0 {
				t.Fatalf("nothing more on the terminal after %q (poll: %d, %v)", got, n, err)
			}
			n, err := unix.Read(int(m.Fd()), buf)
			if err != nil {
				t.Fatalf("reading the terminal after %q: %v", got, err)
			}
			got = append(got, buf[:n]...)
		}
		return string(got)
	}

	master, slave := testenv.OpenPTY(t)
	run(slave)
	wantEscaped := `before\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2Jafter` + "\n"
	if got := readLine(master); got != wantEscaped {
		t.Fatalf("on a terminal: got %q, want %q", got, wantEscaped)
	}
	run(slave, "--raw")
	if got := readLine(master); got != hostile {
		t.Fatalf("--raw on a terminal: got %q, want the bytes %q", got, hostile)
	}

	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	run(out)
	b, _ := os.ReadFile(out.Name())
	if !strings.Contains(string(b), "\x1b]52") {
		t.Fatalf("to a file the bytes should be kept, got %q", b)
	}
}

// TestIsTerminalDevNull: /dev/null is a character device but not a
// terminal; output redirected there (or stdin read from it) must not count
// as interactive.
func TestIsTerminalDevNull(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("isTerminal(%s) = true, want false", os.DevNull)
	}
}
