package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/testenv"
)

func TestLineRenderer(t *testing.T) {
	lines := []string{"installing x with npm …", "installing x with npm: done", "! canonical port 4100 is in use", "starting x …", "starting x: failed", "✗ oops"}
	t.Run("plain lines off a terminal", func(t *testing.T) {
		var buf bytes.Buffer
		r := newLineRenderer(&buf)
		for _, l := range lines {
			r.line(l)
		}
		r.close()
		if d := cmp.Diff(strings.Join(lines, "\n")+"\n", buf.String()); d != "" {
			t.Fatalf("output (-want +got):\n%s", d)
		}
	})
	t.Run("spinner on a terminal", func(t *testing.T) {
		// The renderer's own mutex orders the spinner's writes.
		var buf bytes.Buffer
		r := &lineRenderer{w: &buf, tty: true}
		for _, l := range lines {
			r.line(l)
		}
		r.close()
		// Each step's spinner line is replaced by its outcome.
		var final []string
		for _, seg := range strings.Split(buf.String(), "\n") {
			if i := strings.LastIndex(seg, "\033[K"); i >= 0 {
				seg = seg[i+len("\033[K"):]
			}
			if seg != "" {
				final = append(final, seg)
			}
		}
		want := []string{"✓ installing x with npm", "! canonical port 4100 is in use", "✗ starting x", "✗ oops"}
		if d := cmp.Diff(want, final); d != "" {
			t.Fatalf("rendered lines (-want +got):\n%s", d)
		}
	})
}

func TestOpShortAndPaths(t *testing.T) {
	k := "vault"
	src, err := install.ParseSource(k, install.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		src  install.Source
		want string
	}{
		"first-party": {src, "vault"},
		"scoped npm":  {install.Source{Package: "@acme/weather"}, "weather"},
		"plain npm":   {install.Source{Package: "weather"}, "weather"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := opShort(tc.src); got != tc.want {
				t.Fatalf("opShort = %q, want %q", got, tc.want)
			}
		})
	}
	if got := absIfPath("vault"); got != "vault" {
		t.Fatalf("absIfPath(vault) = %q", got)
	}
	if got := absIfPath("./mod"); !strings.HasPrefix(got, "/") || !strings.HasSuffix(got, "/mod") {
		t.Fatalf("absIfPath(./mod) = %q", got)
	}
}

// TestInstallPrintsTheMigrateNotice: a successful install in a config
// root the TypeScript hub left files in ends with the one-line pointer at
// `parachute migrate` (reference lifecycle §5.6); a clean root gets none.
func TestInstallPrintsTheMigrateNotice(t *testing.T) {
	root := accountsRoot(t) // no hub: installed locally
	t.Setenv("BUN_INSTALL", filepath.Join(t.TempDir(), "no-bun"))
	dir := filepath.Join(t.TempDir(), "weather")
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"weather","version":"1.0.0"}`)
	writeFile(t, filepath.Join(dir, ".parachute", "module.json"),
		`{"name":"weather","port":2020,"paths":["/weather"],"health":"/weather/health"}`)
	install := func() string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := Main(context.Background(), []string{"install", dir}, &out, &errOut); code != ExitOK {
			t.Fatalf("install = %d: %s%s", code, out.String(), errOut.String())
		}
		return out.String()
	}
	if out := install(); strings.Contains(out, "parachute migrate") {
		t.Errorf("install in a clean root mentions migrate:\n%s", out)
	}
	writeFile(t, filepath.Join(root, "server.yaml"), "port: 1939\n") // the TypeScript hub's config
	want := "parachute migrate: 1 archivable entry at " + root + " — run `parachute migrate` to archive them.\n"
	if out := install(); !strings.HasSuffix(out, want) {
		t.Errorf("install with a legacy file: output does not end with %q:\n%s", want, out)
	}
}

// TestLocalInstallAsRootRefusesAnotherUsersRoot: with the hub down, root
// does not install into a config root another user owns (the system
// package's, a container volume): the files it would write (services.json
// first) would be root's, and that user's hub could not use them.
func TestLocalInstallAsRootRefusesAnotherUsersRoot(t *testing.T) {
	testenv.NeedRoot(t, "the refusal is for root")
	root := accountsRoot(t) // no hub
	t.Setenv("BUN_INSTALL", filepath.Join(t.TempDir(), "no-bun"))
	if err := os.Chown(root, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "weather")
	writeFile(t, filepath.Join(dir, "package.json"), `{"name":"weather","version":"1.0.0"}`)
	writeFile(t, filepath.Join(dir, ".parachute", "module.json"),
		`{"name":"weather","port":2020,"paths":["/weather"],"health":"/weather/health"}`)
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"install", dir}, &out, &errOut)
	if code != ExitFail || !strings.Contains(errOut.String(), "sudo -u '#65534' parachute install weather") {
		t.Errorf("install as root into uid 65534's root = %d\n%s%s", code, out.String(), errOut.String())
	}
	if _, err := os.Stat(filepath.Join(root, "services.json")); err == nil {
		t.Error("services.json was written")
	}
}
