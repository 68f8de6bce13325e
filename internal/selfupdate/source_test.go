package selfupdate

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/testenv"

	"github.com/google/go-cmp/cmp"
)

// fakeHost builds a Host around an executable path, its resolved path, an
// environment, existing marker files and query answers keyed by argv.
func fakeHost(exe, real string, env map[string]string, exists []string, answers map[string]string) Host {
	return Host{
		Executable: func() (string, error) { return exe, nil },
		EvalSymlinks: func(p string) (string, error) {
			if p == exe && real != "" {
				return real, nil
			}
			return p, nil
		},
		Getenv: func(k string) string { return env[k] },
		Exists: func(p string) bool {
			for _, e := range exists {
				if e == p {
					return true
				}
			}
			return false
		},
		LookPath: func(name string) (string, error) {
			if name == "dpkg-query" || name == "rpm" {
				return "/usr/bin/" + name, nil
			}
			return "", exec.ErrNotFound
		},
		Output: func(_ context.Context, name string, args ...string) (string, int, error) {
			if out, ok := answers[name+" "+strings.Join(args, " ")]; ok {
				return out, 0, nil
			}
			return "", 1, nil
		},
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		host Host
		want Source
	}{
		{name: "standalone", host: fakeHost("/home/me/bin/parachute", "", nil, nil, nil),
			want: Source{Kind: KindStandalone, Path: "/home/me/bin/parachute"}},
		{name: "standalone through a symlink replaces the real file", host: fakeHost("/usr/local/bin/parachute", "/opt/parachute/parachute-1.0", nil, nil, nil),
			want: Source{Kind: KindStandalone, Path: "/opt/parachute/parachute-1.0"}},
		{name: "container by PARACHUTE_HOME", host: fakeHost("/usr/bin/parachute", "", map[string]string{"PARACHUTE_HOME": "/parachute"}, nil, nil),
			want: Source{Kind: KindContainer, Path: "/usr/bin/parachute"}},
		{name: "container by marker", host: fakeHost("/usr/bin/parachute", "", nil, []string{"/run/.containerenv"}, nil),
			want: Source{Kind: KindContainer, Path: "/usr/bin/parachute"}},
		{name: "homebrew", host: fakeHost("/opt/homebrew/bin/parachute", "/opt/homebrew/Cellar/parachute/1.2.0/bin/parachute", nil, nil, nil),
			want: Source{Kind: KindHomebrew, Path: "/opt/homebrew/Cellar/parachute/1.2.0/bin/parachute", Package: "parachute",
				Command: "brew upgrade parachute && brew services restart parachute"}},
		{name: "nix", host: fakeHost("/run/current-system/sw/bin/parachute", "/nix/store/abc-parachute-1.0/bin/parachute", nil, nil, nil),
			want: Source{Kind: KindNix, Path: "/nix/store/abc-parachute-1.0/bin/parachute",
				Command: "update the flake input that provides parachute, then `sudo nixos-rebuild switch` (NixOS module) or `nix profile upgrade parachute`"}},
		{name: "deb", host: fakeHost("/usr/bin/parachute", "", nil, nil, map[string]string{"/usr/bin/dpkg-query -S /usr/bin/parachute": "parachute: /usr/bin/parachute\n"}),
			want: Source{Kind: KindDeb, Path: "/usr/bin/parachute", Package: "parachute", Command: "sudo apt-get update && sudo apt-get install --only-upgrade parachute"}},
		{name: "deb recorded under /bin (usrmerge)", host: fakeHost("/usr/bin/parachute", "", nil, nil, map[string]string{"/usr/bin/dpkg-query -S /bin/parachute": "parachute: /bin/parachute\n"}),
			want: Source{Kind: KindDeb, Path: "/usr/bin/parachute", Package: "parachute", Command: "sudo apt-get update && sudo apt-get install --only-upgrade parachute"}},
		{name: "dpkg pattern match on another file is not ownership", host: fakeHost("/usr/bin/parachute", "", nil, nil, map[string]string{"/usr/bin/dpkg-query -S /usr/bin/parachute": "other: /usr/bin/parachute-helper\n"}),
			want: Source{Kind: KindStandalone, Path: "/usr/bin/parachute"}},
		{name: "rpm", host: fakeHost("/usr/bin/parachute", "", nil, nil, map[string]string{"/usr/bin/rpm -qf --queryformat %{NAME} /usr/bin/parachute": "parachute"}),
			want: Source{Kind: KindRPM, Path: "/usr/bin/parachute", Package: "parachute", Command: "sudo dnf upgrade parachute   (or: sudo zypper update parachute)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Detect(context.Background(), tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("Detect mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestDetectRealDpkg asks the real dpkg about a file it owns and about
// this test binary, which nothing owns.
func TestDetectRealDpkg(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		testenv.Unavailable(t, "not a dpkg system")
	}
	owned, err := exec.LookPath("dpkg-query")
	if err != nil {
		t.Fatal(err)
	}
	h := HostDefaults()
	h.Getenv = func(string) string { return "" }
	h.Exists = func(string) bool { return false } // not a container, whatever this sandbox is
	h.Executable = func() (string, error) { return owned, nil }
	src, err := Detect(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if src.Kind != KindDeb || src.Package == "" || !strings.Contains(src.Command, "apt-get install --only-upgrade "+src.Package) {
		t.Fatalf("Detect(%s) = %+v, want a deb package with its apt command", owned, src)
	}
	h.Executable = os.Executable
	src, err = Detect(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if src.Kind != KindStandalone {
		t.Fatalf("Detect(test binary) = %+v, want standalone", src)
	}
	h.Executable = func() (string, error) { return "", errors.New("no /proc") }
	if _, err := Detect(context.Background(), h); err == nil {
		t.Fatal("Detect with no executable path succeeded")
	}
}
