package install

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/testenv"
)

// fixture is a module package written by the tests.
type fixture struct {
	pkg      string // package.json name; "" writes no package.json
	version  string // package.json version
	name     string // module.json name; "" writes no module.json
	port     int
	startCmd []string
	raw      string // module.json contents verbatim, when set
}

// writeModule writes fx into dir (package.json, .parachute/module.json).
func writeModule(t testing.TB, dir string, fx fixture) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755); err != nil {
		t.Fatal(err)
	}
	if fx.pkg != "" {
		writeJSONFile(t, filepath.Join(dir, "package.json"), map[string]any{"name": fx.pkg, "version": fx.version})
	}
	switch {
	case fx.raw != "":
		if err := os.WriteFile(filepath.Join(dir, ".parachute", "module.json"), []byte(fx.raw), 0o644); err != nil {
			t.Fatal(err)
		}
	case fx.name != "":
		cmd := fx.startCmd
		if cmd == nil {
			cmd = []string{"sh", "-c", "exec sleep 1000"}
		}
		writeJSONFile(t, filepath.Join(dir, ".parachute", "module.json"), map[string]any{
			"name": fx.name, "port": fx.port, "paths": []string{"/" + fx.name}, "health": "/" + fx.name + "/health", "startCmd": cmd})
	}
	return dir
}

func writeJSONFile(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// packTarball writes dir as an npm-style tarball (everything under
// "package/") to out, the layout `npm pack` produces.
func packTarball(t testing.TB, dir, out string) string {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeRuntime records starts and stops; fail decides whether a start of
// the module at its current services.json row fails.
type fakeRuntime struct {
	paths config.Paths
	fail  func(row manifest.Service) error

	mu     sync.Mutex
	events []string
}

func (r *fakeRuntime) Start(_ context.Context, short string) error {
	f, err := manifest.Load(r.paths.ServicesJSON())
	if err != nil {
		return err
	}
	row, ok := f.Find(short)
	if !ok {
		return fmt.Errorf("fake runtime: no row for %s", short)
	}
	r.mu.Lock()
	r.events = append(r.events, "start "+short+" "+row.Version)
	r.mu.Unlock()
	if r.fail != nil {
		return r.fail(row)
	}
	return nil
}

func (r *fakeRuntime) Stop(_ context.Context, short string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "stop "+short)
	return nil
}

func (r *fakeRuntime) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// fakePorts says which ports are listening and who holds them.
type fakePorts map[int]string

func (p fakePorts) Listening(port int) bool { _, ok := p[port]; return ok }
func (p fakePorts) Holder(port int) string  { return p[port] }

// newTestInstaller returns an Installer on a fresh config root, with npm
// (when wanted) installing into a temp prefix.
func newTestInstaller(t testing.TB, rt Runtime, probe PortProbe, rep Reporter) (*Installer, config.Paths, string) {
	t.Helper()
	in, paths := installerAt(t.TempDir(), t.TempDir(), rt, probe, rep)
	return in, paths, in.getenv("NPM_CONFIG_PREFIX")
}

// installerAt returns an Installer on the config root root whose npm
// installs globally into prefix.
func installerAt(root, prefix string, rt Runtime, probe PortProbe, rep Reporter) (*Installer, config.Paths) {
	paths := config.Paths{Root: root}
	env := append(os.Environ(), "NPM_CONFIG_PREFIX="+prefix, "BUN_INSTALL="+filepath.Join(prefix, "no-bun"),
		"npm_config_update_notifier=false", "PARACHUTE_INSTALL_CHANNEL=")
	if probe == nil {
		probe = fakePorts{}
	}
	if rep == nil {
		rep = &Lines{}
	}
	in := New(Options{Paths: paths, Environ: func() []string { return env }, Ports: probe, Runtime: rt, Reporter: rep, PackageManager: "npm"})
	return in, paths
}

func needNPM(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		testenv.Unavailable(t, "needs npm to install packages globally into a temp prefix: %v", err)
	}
}

// rows returns name→port/version/installDir of services.json.
func rows(t testing.TB, p config.Paths) map[string]manifest.Service {
	t.Helper()
	f, err := manifest.Load(p.ServicesJSON())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]manifest.Service{}
	for _, s := range f.Services {
		out[s.Name] = s
	}
	return out
}

func rowNames(t testing.TB, p config.Paths) []string {
	var names []string
	for n := range rows(t, p) {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func wantErrContains(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want an error containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("err = %v\nwant it to contain %q", err, p)
		}
	}
}

// assertNoJournal fails unless the install journal is gone: every
// replacement that returned has been finished or rolled back.
func assertNoJournal(t testing.TB, p config.Paths) {
	t.Helper()
	if b, err := os.ReadFile(journalPath(p.Root)); err == nil {
		t.Fatalf("install journal left behind:\n%s", b)
	}
}
