package cli

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"

	"github.com/openparachute/parachute/internal/manifest"
)

// runSelf runs this binary with args on the caller's terminal: the auth
// verbs the preflight offers prompt with echo off, so they run as their
// own process (as the reference does) rather than sharing our reader.
func runSelf(ctx context.Context, args ...string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}

// preflight is §6.10's interactive auth preflight after the picker put the
// hub on the public internet: offer to set what guards /login. Only y/yes
// accept; a failing verb is reported, and nothing here changes the exit
// code. in is the picker's reader, so no typed-ahead answer is lost.
func (x *exposer) preflight(in *bufio.Reader) {
	u, known := x.owner()
	if !known {
		return
	}
	x.logf("\n")
	if u == nil {
		x.logf("⚠  No owner password is configured.\n" +
			"   Until one is, whoever has the bootstrap token from the hub's log can claim this hub at /admin/setup.\n")
		if x.ask(in, "Set the owner password now? [y/N] ") {
			x.runVerb("auth", "set-password")
		}
		x.logf("   For apps and scripts, mint a token instead of sharing the password:\n"+
			"     parachute auth mint-token --scope vault:%s:read\n", x.firstVault())
	} else {
		x.logf("✓  Owner password is set.\n")
		if u.TOTPEnrolled {
			x.logf("✓  Two-factor authentication is on.\n")
			return
		}
	}
	if x.ask(in, "Set up two-factor authentication now? [y/N] ") {
		x.runVerb("auth", "2fa", "enroll")
	}
}

// ask prints a [y/N] question and reports a y or yes (any case).
func (x *exposer) ask(in *bufio.Reader, prompt string) bool {
	x.logf("%s", prompt)
	line, _ := readAnswer(in)
	switch strings.ToLower(line) {
	case "y", "yes":
		return true
	}
	return false
}

// runVerb runs `parachute <args>` for the operator, or says to.
func (x *exposer) runVerb(args ...string) {
	cmd := "parachute " + strings.Join(args, " ")
	if x.host.run == nil {
		x.logf("   Run: %s\n", cmd)
		return
	}
	if err := x.host.run(x.ctx, args...); err != nil {
		x.logf("✗ `%s` failed: %v (run it again later)\n", cmd, err)
	}
}

// firstVault names the first vault instance for the token example, or
// "<name>" when none is installed.
func (x *exposer) firstVault() string {
	f, err := manifest.Load(x.paths.ServicesJSON())
	if err != nil {
		return "<name>"
	}
	if v := manifest.VaultInstances(f.Services); len(v) > 0 {
		return v[0].Name
	}
	return "<name>"
}
