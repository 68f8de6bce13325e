package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/buildinfo"
)

// TestMainVersionAndUsageHints runs the CLI through Main with writers, as
// main does.
func TestMainVersionAndUsageHints(t *testing.T) {
	versionLine := "parachute " + buildinfo.Get().Version + " (commit "
	cases := []struct {
		name       string
		args       []string
		code       int
		stdout     string // prefix of stdout
		stderr     string // substring of stderr
		noHelpDump bool
	}{
		{"version verb", []string{"version"}, ExitOK, versionLine, "", false},
		{"--version", []string{"--version"}, ExitOK, versionLine, "", false},
		{"-v", []string{"-v"}, ExitOK, versionLine, "", false},
		{"unknown root flag", []string{"--bogus"}, ExitUsage, "", "Run `parachute --help` for usage.", true},
		{"unknown verb flag", []string{"status", "--bogus"}, ExitUsage, "", "Run `parachute status --help` for usage.", true},
		{"unknown sub-verb flag", []string{"auth", "rotate-operator", "--bogus"}, ExitUsage, "",
			"Run `parachute auth rotate-operator --help` for usage.", true},
		{"unknown auth sub-command", []string{"auth", "bogus"}, ExitUsage, "",
			"parachute auth: unknown command \"bogus\"", true},
		{"unknown unit sub-command", []string{"unit", "bogus", "x"}, ExitUsage, "",
			"Run `parachute unit --help` for usage.", true},
		{"auth alone shows its commands", []string{"auth"}, ExitOK, "NAME:", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), c.args, &out, &errOut)
			if code != c.code || !strings.HasPrefix(out.String(), c.stdout) || !strings.Contains(errOut.String(), c.stderr) {
				t.Fatalf("Main(%q) = %d\nstdout: %q\nstderr: %q\nwant %d, stdout starting %q, stderr containing %q",
					c.args, code, out.String(), errOut.String(), c.code, c.stdout, c.stderr)
			}
			if strings.Contains(errOut.String(), "parachute parachute") {
				t.Errorf("doubled program name in %q", errOut.String())
			}
			if c.noHelpDump && (out.Len() > 0 || strings.Contains(errOut.String(), "USAGE:")) {
				t.Errorf("a usage error should print one hint, not the help:\nstdout: %s\nstderr: %s", out.String(), errOut.String())
			}
		})
	}
}
