package cli

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/expose/exposetest"
)

// TestExposeAuthPreflight is §6.10's interactive auth preflight: after the
// picker exposed the hub publicly, it offers to set the owner password and
// enrol two-factor, running the real verbs; only y/yes accept, a failing
// verb is reported without changing the exit code, and nothing is asked
// when both are set or when the picker was not used.
func TestExposeAuthPreflight(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		stdin      string
		user, totp bool
		fail       bool
		wantRuns   [][]string
		want       []string
		never      []string
	}{
		{name: "no owner, yes to both", args: []string{"expose", "public"}, stdin: "y\nyes\n",
			wantRuns: [][]string{{"auth", "set-password"}, {"auth", "2fa", "enroll"}},
			want: []string{"⚠  No owner password is configured.", "Set the owner password now? [y/N] ",
				"parachute auth mint-token --scope vault:default:read", "Set up two-factor authentication now? [y/N] "}},
		{name: "no owner, declined", args: []string{"expose", "public"}, stdin: "n\n\n",
			want: []string{"Set the owner password now? [y/N] ", "Set up two-factor authentication now? [y/N] "}},
		{name: "password only, YES", args: []string{"expose", "public"}, stdin: "YES\n", user: true,
			wantRuns: [][]string{{"auth", "2fa", "enroll"}},
			want:     []string{"✓  Owner password is set.", "Set up two-factor authentication now? [y/N] "},
			never:    []string{"Set the owner password now?"}},
		{name: "both set", args: []string{"expose", "public"}, user: true, totp: true,
			want:  []string{"✓  Owner password is set.", "✓  Two-factor authentication is on."},
			never: []string{"now? [y/N]"}},
		{name: "a failing verb is noted", args: []string{"expose", "public"}, stdin: "y\nn\n", fail: true,
			wantRuns: [][]string{{"auth", "set-password"}},
			want:     []string{"✗ `parachute auth set-password` failed: exit status 1"}},
		{name: "not after --tailnet", args: []string{"expose", "public", "--tailnet"}, stdin: "y\ny\n",
			never: []string{"now? [y/N]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake, root, _ := exposeEnv(t, true, c.stdin)
			exposetest.Write(t, fake, "version", "1.82.0")
			if c.user {
				createOwner(t, root, c.totp)
			}
			var runs [][]string
			host := newExposeHost
			newExposeHost = func(e *env) exposeHost {
				h := host(e)
				h.run = func(_ context.Context, args ...string) error {
					runs = append(runs, slices.Clone(args))
					if c.fail {
						return errors.New("exit status 1")
					}
					return nil
				}
				return h
			}
			code, out, errOut := runCLI(t, c.args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			if diff := cmp.Diff(c.wantRuns, runs); diff != "" {
				t.Errorf("verbs run (-want +got):\n%s\n%s", diff, out)
			}
			checkStdout(t, out, c.want, c.never)
		})
	}
}
