package unit

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCapturePATH(t *testing.T) {
	const std = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	tools := func(found map[string]string) func(string) (string, error) {
		return func(name string) (string, error) {
			if p, ok := found[name]; ok {
				return p, nil
			}
			return "", exec.ErrNotFound
		}
	}
	for _, tc := range []struct {
		name    string
		current string
		look    func(string) (string, error)
		want    string
	}{
		{"empty PATH gets the standard dirs", "", nil, std},
		{"operator order kept, standard dirs appended once", "/usr/bin:/home/op/bin:/bin", nil,
			"/usr/bin:/home/op/bin:/bin:/opt/homebrew/bin:/usr/local/bin:/usr/sbin:/sbin"},
		{"relative, empty and dot entries dropped", ".:bin::~/bin:/a/../b/", nil, "/b:" + std},
		{"duplicates dropped after cleaning", "/x:/x/:/x//", nil, "/x:" + std},
		{"tool dirs added after the operator's", "/home/op/bin",
			tools(map[string]string{"bun": "/home/op/.bun/bin/bun", "node": "/usr/local/n/bin/node", "npm": "/usr/local/n/bin/npm"}),
			"/home/op/bin:/home/op/.bun/bin:/usr/local/n/bin:" + std},
		{"relative tool paths ignored", "", tools(map[string]string{"bun": "bin/bun"}), std},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CapturePATH(tc.current, tc.look); got != tc.want {
				t.Errorf("CapturePATH(%q)\n got %s\nwant %s", tc.current, got, tc.want)
			}
		})
	}
}

// TestHubServiceFindsToolsInOperatorPATH uses the default LookPath, which
// searches the operator's PATH for real executables, not this process's.
func TestHubServiceFindsToolsInOperatorPATH(t *testing.T) {
	dir := t.TempDir()
	bunDir := filepath.Join(dir, "bun install", "bin")
	nodeDir := filepath.Join(dir, "node", "bin")
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{filepath.Join(bunDir, "bun"), 0o755},
		{filepath.Join(nodeDir, "node"), 0o755},
		{filepath.Join(nodeDir, "npm"), 0o644}, // not executable: not found
	} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.path, nil, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	s, err := HubService(HubOptions{
		Binary:     "/usr/bin/parachute",
		Root:       filepath.Join(dir, "root"),
		BunInstall: filepath.Join(dir, "bun install"),
		PATH:       "/usr/bin",
		LookPath:   func(name string) (string, error) { return lookPathIn(nodeDir+":"+bunDir, name) },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []EnvVar{
		{Name: "PARACHUTE_HOME", Value: filepath.Join(dir, "root")},
		{Name: "PORT", Value: "1939"},
		{Name: "PATH", Value: "/usr/bin:" + bunDir + ":" + nodeDir + ":/opt/homebrew/bin:/usr/local/bin:/bin:/usr/sbin:/sbin"},
		{Name: "BUN_INSTALL", Value: filepath.Join(dir, "bun install")},
	}
	if diff := cmp.Diff(want, s.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if got, err := lookPathIn("rel:"+nodeDir, "npm"); err == nil {
		t.Errorf("lookPathIn found a non-executable npm: %s", got)
	}
}

func TestHubService(t *testing.T) {
	noBun := func(o *HubOptions) { o.Exists = func(string) bool { return false } }
	for _, tc := range []struct {
		name  string
		edit  func(*HubOptions)
		check func(t *testing.T, s Service)
	}{
		{"no BUN_INSTALL when bun is unknown", noBun, func(t *testing.T, s Service) {
			for _, e := range s.Env {
				if e.Name == "BUN_INSTALL" {
					t.Errorf("BUN_INSTALL=%s set though ~/.bun does not exist", e.Value)
				}
			}
			if diff := cmp.Diff([]string{opHome + "/.parachute"}, s.WritablePaths); diff != "" {
				t.Errorf("writable paths (-want +got):\n%s", diff)
			}
		}},
		{"User=root is not written", func(o *HubOptions) { o.User = "root" }, func(t *testing.T, s Service) {
			if s.User != "" {
				t.Errorf("User = %q, want none (root is the default)", s.User)
			}
		}},
		{"explicit root and port", func(o *HubOptions) { o.Root = "/srv/p/../parachute"; o.Port = 2000 }, func(t *testing.T, s Service) {
			if s.WorkingDir != "/srv/parachute" || s.Env[0].Value != "/srv/parachute" || s.Env[1].Value != "2000" {
				t.Errorf("working dir %s, env %v", s.WorkingDir, s.Env[:2])
			}
			if s.LogFile != "/srv/parachute/hub/logs/hub.log" {
				t.Errorf("log file = %s", s.LogFile)
			}
		}},
		{"never sets the hub origin or bind host", nil, func(t *testing.T, s Service) {
			for _, e := range s.Env {
				if e.Name == "PARACHUTE_HUB_ORIGIN" || e.Name == "PARACHUTE_BIND_HOST" {
					t.Errorf("unit sets %s", e.Name)
				}
			}
		}},
		{"stop timeout above the hub's own 10 s deadline, watchdog 30 s", nil, func(t *testing.T, s Service) {
			if s.StopTimeout.Seconds() <= 10 || s.Watchdog.Seconds() != 30 || !s.Notify || s.KillMode != "mixed" || !s.Delegate {
				t.Errorf("stop %s, watchdog %s, notify %v, kill mode %q, delegate %v", s.StopTimeout, s.Watchdog, s.Notify, s.KillMode, s.Delegate)
			}
			if diff := cmp.Diff([]int{ExitConfig}, s.NoRestartExitCodes); diff != "" {
				t.Errorf("no-restart codes (-want +got):\n%s", diff)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opOptions(ScopeSystem)
			if tc.edit != nil {
				tc.edit(&o)
			}
			s, err := HubService(o)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestRenderKind(t *testing.T) {
	for _, tc := range []struct {
		kind          string
		scope         Scope
		want, wantNot []string
	}{
		{KindSystemd, ScopeUser, []string{"User=op\n", "WantedBy=multi-user.target", "ProtectSystem=strict"}, nil},
		{KindSystemdUser, ScopeSystem, []string{"WantedBy=default.target"}, []string{"User=", "ProtectSystem", "network-online"}},
		{KindLaunchd, ScopeUser, []string{"<key>Label</key>"}, []string{"UserName"}},
		{KindLaunchd, ScopeSystem, []string{"<key>UserName</key>\n\t\t<string>op</string>"}, nil},
	} {
		t.Run(tc.kind+" from "+tc.scope.String()+" options", func(t *testing.T) {
			out, err := RenderKind(tc.kind, opOptions(tc.scope))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(string(out), w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	if _, err := RenderKind("upstart", opOptions(ScopeUser)); err == nil || !strings.Contains(err.Error(), "systemd-user") {
		t.Errorf("unknown kind: error = %v, want one listing the kinds", err)
	}
}

func TestPaths(t *testing.T) {
	got := []string{
		SystemdUnitPath(ScopeSystem, "/home/op"),
		SystemdUnitPath(ScopeUser, "/home/op"),
		LaunchdPlistPath(true, "/Users/op"),
		LaunchdPlistPath(false, "/Users/op"),
		PackagedSystemUnitPath,
		PackagedUserUnitPath,
	}
	want := []string{
		"/etc/systemd/system/parachute-hub.service",
		"/home/op/.config/systemd/user/parachute-hub.service",
		"/Library/LaunchDaemons/computer.parachute.hub.plist",
		"/Users/op/Library/LaunchAgents/computer.parachute.hub.plist",
		"/usr/lib/systemd/system/parachute-hub.service",
		"/usr/lib/systemd/user/parachute-hub.service",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
}

func TestDetectHubOptions(t *testing.T) {
	users := map[string]*user.User{
		"op":   {Username: "op", HomeDir: "/home/op"},
		"root": {Username: "root", HomeDir: "/root"},
	}
	fake := func(euid int, env map[string]string) host {
		return host{
			getenv: func(k string) string { return env[k] },
			euid:   func() int { return euid },
			lookupUser: func(name string) (*user.User, error) {
				if u, ok := users[name]; ok {
					return u, nil
				}
				return nil, user.UnknownUserError(name)
			},
			currentUser: func() (*user.User, error) {
				if euid == 0 {
					return users["root"], nil
				}
				return users["op"], nil
			},
			// Homebrew: argv[0] is the stable symlink, the executable the
			// versioned Cellar file it points to.
			executable: func() (string, error) { return "/opt/homebrew/Cellar/parachute/1.0/bin/parachute", nil },
			arg0:       "parachute",
			lookPath:   func(string) (string, error) { return "/opt/homebrew/bin/parachute", nil },
			sameFile:   func(a, b string) bool { return a == "/opt/homebrew/bin/parachute" },
		}
	}
	const bin = "/opt/homebrew/bin/parachute"
	for _, tc := range []struct {
		name       string
		h          host
		user, root string
		want       HubOptions
		wantErr    string
	}{
		{"operator", fake(1000, map[string]string{"PATH": "/usr/bin", "BUN_INSTALL": "/home/op/.bun"}), "", "",
			HubOptions{Binary: bin, Root: "/home/op/.parachute", Scope: ScopeUser, User: "op", Home: "/home/op", PATH: "/usr/bin", BunInstall: "/home/op/.bun"}, ""},
		{"operator with PARACHUTE_HOME", fake(1000, map[string]string{"PARACHUTE_HOME": "/srv/p"}), "", "",
			HubOptions{Binary: bin, Root: "/srv/p", Scope: ScopeUser, User: "op", Home: "/home/op"}, ""},
		{"sudo installs for the operator", fake(0, map[string]string{"SUDO_USER": "op", "BUN_INSTALL": "/root/.bun"}), "", "",
			HubOptions{Binary: bin, Root: "/home/op/.parachute", Scope: ScopeSystem, User: "op", Home: "/home/op"}, ""},
		{"root without sudo", fake(0, nil), "", "",
			HubOptions{Binary: bin, Root: "/root/.parachute", Scope: ScopeSystem, Home: "/root"}, ""},
		{"--user and --home win", fake(0, map[string]string{"SUDO_USER": "root", "PARACHUTE_HOME": "/x"}), "op", "/data/parachute",
			HubOptions{Binary: bin, Root: "/data/parachute", Scope: ScopeSystem, User: "op", Home: "/home/op"}, ""},
		{"unknown user", fake(0, nil), "ghost", "", HubOptions{}, "looking up user ghost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := detectHubOptions(tc.h, tc.user, tc.root)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBinaryPathFallsBackToExecutable(t *testing.T) {
	h := host{
		executable: func() (string, error) { return "/usr/bin/parachute", nil },
		arg0:       "parachute",
		lookPath:   func(string) (string, error) { return "", errors.New("not found") },
	}
	if got, err := binaryPath(h); err != nil || got != "/usr/bin/parachute" {
		t.Errorf("binaryPath = %q, %v; want /usr/bin/parachute", got, err)
	}
}

// TestDetectHubOptionsOnThisHost runs the real detection once: whatever the
// host, the result renders.
func TestDetectHubOptionsOnThisHost(t *testing.T) {
	opts, err := DetectHubOptions("", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{KindSystemd, KindSystemdUser, KindLaunchd} {
		if _, err := RenderKind(kind, opts); err != nil {
			t.Errorf("RenderKind(%s) with detected options %+v: %v", kind, opts, err)
		}
	}
}
