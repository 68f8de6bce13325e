package hubsvc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// fakeLaunchctl records every launchctl call (launchd cannot run here) and
// answers `print` from a table the test controls.
type fakeLaunchctl struct {
	mu     sync.Mutex
	calls  []string
	loaded map[string]bool // label → loaded
	onKick func()
}

func (f *fakeLaunchctl) run(ctx context.Context, name string, args ...string) (string, string, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	if name != "launchctl" || len(args) == 0 {
		return "", "", 0, nil
	}
	label := func(target string) string { return target[strings.LastIndex(target, "/")+1:] }
	switch args[0] {
	case "print":
		l := label(args[1])
		if !f.loaded[l] {
			return "", "Could not find service \"" + l + "\" in domain for user gui: 501\n", 113, nil
		}
		return args[1] + " = {\n\tstate = not running\n\tlast exit code = 0\n}\n", "", 0, nil
	case "bootstrap":
		f.loaded[strings.TrimSuffix(filepath.Base(args[2]), ".plist")] = true
		if f.onKick != nil {
			f.onKick()
		}
	case "bootout":
		l := label(args[1])
		if !f.loaded[l] {
			return "", "Boot-out failed: 3: No such process\n", 3, nil
		}
		f.loaded[l] = false
	case "kickstart":
		if f.onKick != nil {
			f.onKick()
		}
	}
	return "", "", 0, nil
}

func (f *fakeLaunchctl) mutations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if !strings.HasPrefix(c, "launchctl print") && !strings.HasPrefix(c, "ps ") {
			out = append(out, c)
		}
	}
	return out
}

func newLaunchdController(t *testing.T, f *fakeLaunchctl) (*Controller, *healthFlag, string) {
	home := t.TempDir()
	mgr := servicemgr.NewLaunchd(servicemgr.LaunchdOptions{UID: 501, Home: home, Runner: f.run, DrainTimeout: 50 * time.Millisecond, PollInterval: time.Millisecond})
	h := &healthFlag{}
	f.onKick = func() { h.set(true) }
	now := time.Unix(0, 0)
	return &Controller{
		Paths:        config.Paths{Root: filepath.Join(home, ".parachute")},
		Mgr:          mgr,
		Home:         home,
		Health:       h.check,
		Now:          func() time.Time { return now },
		Sleep:        func(d time.Duration) { now = now.Add(d) },
		ReadyTimeout: time.Second,
	}, h, home
}

type healthFlag struct {
	mu sync.Mutex
	up bool
}

func (h *healthFlag) set(v bool) { h.mu.Lock(); h.up = v; h.mu.Unlock() }
func (h *healthFlag) check(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.up {
		return nil
	}
	return errors.New("connection refused")
}

func TestLaunchdInstallIsIdempotent(t *testing.T) {
	f := &fakeLaunchctl{loaded: map[string]bool{}}
	c, _, home := newLaunchdController(t, f)
	res, err := c.Install(context.Background())
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if !res.Written || !res.Started || res.Adopted != "" {
		t.Fatalf("first Install = %+v, want written and started", res)
	}
	plistPath := filepath.Join(home, "Library", "LaunchAgents", "computer.parachute.hub.plist")
	data, err := os.ReadFile(plistPath)
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Label            string   `plist:"Label"`
		ProgramArguments []string `plist:"ProgramArguments"`
	}
	if _, err := plist.Unmarshal(data, &job); err != nil {
		t.Fatalf("parsing the written plist: %v", err)
	}
	if job.Label != "computer.parachute.hub" || job.ProgramArguments[len(job.ProgramArguments)-1] != "serve" {
		t.Fatalf("plist = %+v", job)
	}
	if _, err := os.Stat(c.Paths.HubLogDir()); err != nil {
		t.Fatalf("launchd log dir not created before loading: %v", err)
	}
	want := []string{
		"launchctl enable gui/501/computer.parachute.hub",
		"launchctl bootstrap gui/501 " + plistPath,
	}
	if d := cmp.Diff(want, f.mutations()); d != "" {
		t.Errorf("launchctl calls (-want +got):\n%s", d)
	}
	// Loaded, healthy, same content: a second Install changes nothing. The
	// fake's print says "not running", so make it "running".
	f.calls = nil
	res, err = c.Install(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Written {
		t.Errorf("second Install rewrote the plist")
	}
}

func TestBrewServicesHubIsAdopted(t *testing.T) {
	f := &fakeLaunchctl{loaded: map[string]bool{BrewLabel: true}}
	c, _, home := newLaunchdController(t, f)
	brewPlist := filepath.Join(home, "Library", "LaunchAgents", BrewLabel+".plist")
	os.MkdirAll(filepath.Dir(brewPlist), 0o755)
	if err := os.WriteFile(brewPlist, []byte("<plist/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := c.Install(context.Background())
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if !strings.Contains(res.Adopted, "brew services") || res.Written {
		t.Fatalf("Install = %+v, want brew's hub adopted and nothing written", res)
	}
	if _, err := os.Stat(filepath.Join(home, "Library", "LaunchAgents", "computer.parachute.hub.plist")); !os.IsNotExist(err) {
		t.Fatalf("a second hub plist was written next to brew's (%v)", err)
	}
	if d := cmp.Diff([]string{"launchctl kickstart gui/501/" + BrewLabel}, f.mutations()); d != "" {
		t.Errorf("launchctl calls (-want +got):\n%s", d)
	}
	if got := c.Label(servicemgr.State{}); got != "managed unit (launchd, brew services)" {
		t.Errorf("Label = %q", got)
	}
}

func TestOwner(t *testing.T) {
	cases := map[string]string{
		"/usr/lib/systemd/system/parachute-hub.service": "package",
		"/lib/systemd/system/parachute-hub.service":     "package",
		"/etc/systemd/system/parachute-hub.service":     "",
		"": "",
	}
	for path, want := range cases {
		if got := Owner(path); got != want {
			t.Errorf("Owner(%q) = %q, want %q", path, got, want)
		}
	}
	// A NixOS unit: /etc/systemd/system/x.service → /nix/store/... (the
	// target does not exist here; its prefix is what counts).
	dir := t.TempDir()
	link := filepath.Join(dir, "parachute-hub.service")
	if err := os.Symlink("/nix/store/abc-unit-parachute-hub.service/parachute-hub.service", link); err != nil {
		t.Fatal(err)
	}
	if got := Owner(link); got != "nix" {
		t.Errorf("Owner of a link into /nix/store = %q, want nix", got)
	}
}
