package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/testenv"
)

func TestCheckTrust(t *testing.T) {
	const other = 4242 // a non-root user that is not us
	cases := []struct {
		name     string
		asRoot   bool
		rootMode os.FileMode
		svcMode  os.FileMode
		envMode  os.FileMode
		owner    int    // chown root, services.json and .env to this uid; -1 = leave
		want     string // "" = no problem; else a substring of the message
	}{
		{name: "private root", rootMode: 0o700, svcMode: 0o600, envMode: 0o600, owner: -1},
		{name: "private root as root", asRoot: true, rootMode: 0o700, svcMode: 0o600, envMode: 0o600, owner: -1},
		{name: "group-shared root as root", asRoot: true, rootMode: 0o750, svcMode: 0o640, envMode: 0o600, owner: -1},
		{name: "world-writable root", rootMode: 0o777, svcMode: 0o600, envMode: 0o600, owner: -1, want: "chmod o-w "},
		{name: "world-writable root as root", asRoot: true, rootMode: 0o777, svcMode: 0o600, envMode: 0o600, owner: -1, want: "chmod o-w "},
		{name: "sticky world-writable root as root", asRoot: true, rootMode: os.ModeSticky | 0o777, svcMode: 0o600, envMode: 0o600, owner: -1, want: "writable by every user"},
		{name: "world-writable services.json as root", asRoot: true, rootMode: 0o700, svcMode: 0o666, envMode: 0o600, owner: -1, want: "services.json is writable by every user"},
		{name: "world-writable .env as root", asRoot: true, rootMode: 0o700, svcMode: 0o600, envMode: 0o602, owner: -1, want: ".env is writable by every user"},
		{name: "root owned by another user, as root", asRoot: true, rootMode: 0o700, svcMode: 0o600, envMode: 0o600, owner: other, want: "chown root "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if (c.asRoot || c.owner >= 0) && os.Geteuid() != 0 {
				testenv.Unavailable(t, "needs root: the hub's as-root rules and files owned by another user")
			}
			p := Paths{Root: filepath.Join(t.TempDir(), "root")}
			env := p.ModuleEnv("vault")
			if err := os.MkdirAll(filepath.Dir(env), 0o700); err != nil {
				t.Fatal(err)
			}
			for path, mode := range map[string]os.FileMode{p.ServicesJSON(): c.svcMode, env: c.envMode} {
				if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, mode); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(p.Root, c.rootMode); err != nil {
				t.Fatal(err)
			}
			if c.owner >= 0 {
				for _, path := range []string{p.Root, p.ServicesJSON(), env} {
					if err := os.Chown(path, c.owner, -1); err != nil {
						t.Fatal(err)
					}
				}
			}
			euid := 1000
			if c.asRoot {
				euid = 0
			} else if os.Geteuid() != 0 {
				euid = os.Geteuid()
			}
			warns, err := p.checkTrust(euid, []string{env})
			switch {
			case c.want == "":
				if err != nil || len(warns) != 0 {
					t.Fatalf("checkTrust = %q, %v; want no problems", warns, err)
				}
			case c.asRoot:
				if !errors.Is(err, ErrUntrustedRoot) || !strings.Contains(err.Error(), c.want) ||
					!strings.Contains(err.Error(), "not starting modules") {
					t.Fatalf("checkTrust = %q, %v; want ErrUntrustedRoot saying %q", warns, err, c.want)
				}
			default:
				if err != nil || len(warns) == 0 || !strings.Contains(strings.Join(warns, "\n"), c.want) {
					t.Fatalf("checkTrust = %q, %v; want a warning saying %q", warns, err, c.want)
				}
			}
		})
	}
}
