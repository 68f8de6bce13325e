package envshim

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name        string
		args        []string
		assign, cmd []string
		wantErr     bool
	}{
		{name: "shebang", args: []string{"bun", "/m/bin/vault.js", "serve"}, cmd: []string{"bun", "/m/bin/vault.js", "serve"}},
		{name: "assignments", args: []string{"A=1", "B=x=y", "node", "s.js"}, assign: []string{"A=1", "B=x=y"}, cmd: []string{"node", "s.js"}},
		{name: "-S in one argument", args: []string{"-S bun --smol", "/s.js"}, cmd: []string{"bun", "--smol", "/s.js"}},
		{name: "-S then argument", args: []string{"-S", "bun  run", "/s.js"}, cmd: []string{"bun", "run", "/s.js"}},
		{name: "double dash", args: []string{"--", "-weird"}, cmd: []string{"-weird"}},
		{name: "only assignments", args: []string{"A=1"}, assign: []string{"A=1"}},
		{name: "unknown option", args: []string{"-i", "bun"}, wantErr: true},
		{name: "-S alone", args: []string{"-S"}, wantErr: true},
		{name: "leading =", args: []string{"=x", "bun"}, cmd: []string{"=x", "bun"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assign, cmd, err := Parse(c.args)
			if c.wantErr {
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("err = %v, want ErrUsage", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.assign, assign); d != "" {
				t.Errorf("assign (-want +got):\n%s", d)
			}
			if d := cmp.Diff(c.cmd, cmd); d != "" {
				t.Errorf("cmd (-want +got):\n%s", d)
			}
		})
	}
}

func TestExecNotFound(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, _, err := Exec([]string{"no-such-interpreter", "/s.js"})
	if code != ExitNotFound || err == nil {
		t.Errorf("Exec = %d, %v; want %d", code, err, ExitNotFound)
	}
}

func TestInvoked(t *testing.T) {
	for argv0, want := range map[string]bool{"/usr/bin/env": true, "env": true, "/usr/bin/parachute": false, "envy": false} {
		if Invoked(argv0) != want {
			t.Errorf("Invoked(%q) != %v", argv0, want)
		}
	}
}

// FuzzParse: any argument list parses or is refused, without a panic.
func FuzzParse(f *testing.F) {
	f.Add("bun", "/s.js")
	f.Add("-S bun --smol", "x")
	f.Add("-S", "")
	f.Add("A=1", "--")
	f.Fuzz(func(t *testing.T, a, b string) {
		Parse([]string{a, b})
	})
}
