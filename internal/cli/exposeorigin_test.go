package cli

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/hubdb"
)

// TestExposeSummaryShowsTheHubsOrigin: with hub_settings.hub_origin set
// (PUT /api/settings/hub-origin), the admin's origin outranks the exposure
// (issue 11's precedence), so the summary names the origin the running
// hub really mints with and gives its modules, not the exposed host the
// CLI would compute without hub.db.
func TestExposeSummaryShowsTheHubsOrigin(t *testing.T) {
	fake, root, h := exposeEnv(t, false, "")
	exposetest.Write(t, fake, "version", "1.82.0")
	const admin = "https://hub.example.com"
	c := hubclient.New(config.Paths{Root: root})
	body := map[string]any{"hub_origin": admin}
	if err := c.JSON(context.Background(), http.MethodPut, "/api/settings/hub-origin", body, nil); err != nil {
		t.Fatal(err)
	}
	mark := h.out.mark()
	code, out, errOut := runCLI(t, "expose", "tailnet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"OAuth issuer: " + admin + "\n",
		"Discovery: " + admin + "/.well-known/parachute.json",
		"✓ restarted vault with PARACHUTE_HUB_ORIGIN=" + admin + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	checkRestarted(t, h, mark, admin)

	code, out, errOut = runCLI(t, "expose", "tailnet", "off", "--json")
	if code != 0 || !strings.Contains(out, `"hub_origin": "`+admin+`"`) {
		t.Errorf("off --json: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestExposePublicLoginWarning is §6.10's account check: a public
// exposure warns about /login only while the owner lacks a password or
// two-factor, and names what is missing; the tailnet never warns.
func TestExposePublicLoginWarning(t *testing.T) {
	cases := []struct {
		name        string
		args        []string
		user, totp  bool
		want, never []string
	}{
		{"no owner yet", []string{"expose", "public", "--tailnet"}, false, false,
			[]string{"⚠ No owner password is configured", "⚠ /login is now reachable on the public internet"}, nil},
		{"password, no 2FA", []string{"expose", "public", "--tailnet"}, true, false,
			[]string{"⚠ /login is now reachable on the public internet", `two-factor is off for "owner"`, "parachute auth 2fa enroll"},
			[]string{"No owner password"}},
		{"password and 2FA", []string{"expose", "public", "--tailnet"}, true, true,
			[]string{`✓ Owner password is set and two-factor is on ("owner").`},
			[]string{"/login is now reachable", "No owner password"}},
		{"tailnet never warns", []string{"expose", "tailnet"}, false, false, nil,
			[]string{"/login is now reachable", "No owner password"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake, root, _ := exposeEnv(t, false, "")
			exposetest.Write(t, fake, "version", "1.82.0")
			if c.user {
				createOwner(t, root, c.totp)
			}
			code, out, errOut := runCLI(t, c.args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			checkStdout(t, out, c.want, c.never)
		})
	}
}

// TestExposeHubOriginFlagWins is the head of issue 11's precedence:
// `--hub-origin` outranks hub_settings.hub_origin (and the environment),
// in the running hub (its issuer, discovery, every module's
// PARACHUTE_HUB_ORIGIN) for as long as that exposure is recorded; `off`
// hands the origin back to the setting.
func TestExposeHubOriginFlagWins(t *testing.T) {
	fake, root, h := exposeEnv(t, false, "")
	exposetest.Write(t, fake, "version", "1.82.0")
	const admin, flag = "https://hub.example.com", "https://hub.example.org"
	c := hubclient.New(config.Paths{Root: root})
	ctx := context.Background()
	if err := c.JSON(ctx, http.MethodPut, "/api/settings/hub-origin", map[string]any{"hub_origin": admin}, nil); err != nil {
		t.Fatal(err)
	}
	mark := h.out.mark()
	code, out, errOut := runCLI(t, "expose", "tailnet", "--hub-origin", flag)
	if code != 0 || !strings.Contains(out, "OAuth issuer: "+flag+"\n") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	checkRestarted(t, h, mark, flag)
	var got struct {
		HubOrigin      *string `json:"hub_origin"`
		ResolvedIssuer string  `json:"resolved_issuer"`
	}
	if err := c.JSON(ctx, http.MethodGet, "/api/settings/hub-origin", nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.ResolvedIssuer != flag || got.HubOrigin == nil || *got.HubOrigin != admin {
		t.Errorf("GET /api/settings/hub-origin = %+v, want the setting kept and the issuer %s", got, flag)
	}

	mark = h.out.mark()
	code, out, errOut = runCLI(t, "expose", "tailnet", "off")
	if code != 0 || !strings.Contains(out, "OAuth issuer: "+admin+"\n") {
		t.Fatalf("off: exit %d\n%s\n%s", code, out, errOut)
	}
	checkRestarted(t, h, mark, admin)
}

// TestExposeWarnsAboutModulesThatAreDown is §6.2 step 6: a registered
// module that is not running is named after an exposure, with the command
// that starts it, because its path now answers "unreachable" to the
// devices it was exposed to (never fatal). notes is registered in
// exposeEnv's hub but has no command, so it never runs.
func TestExposeWarnsAboutModulesThatAreDown(t *testing.T) {
	fake, _, _ := exposeEnv(t, false, "")
	exposetest.Write(t, fake, "version", "1.82.0")
	code, out, errOut := runCLI(t, "expose", "tailnet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	want := "⚠ notes is not running, so https://box.tail1234.ts.net/notes answers \"unreachable\": start it with `parachute start notes` (see `parachute logs notes`)"
	if !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
	for _, m := range []string{"vault", "scribe"} {
		if strings.Contains(out, "⚠ "+m+" is not running") {
			t.Errorf("warns about running %s:\n%s", m, out)
		}
	}
	code, out, _ = runCLI(t, "expose", "tailnet", "off")
	if code != 0 || strings.Contains(out, "is not running") {
		t.Errorf("off: exit %d, warns about modules that are down:\n%s", code, out)
	}
}

// createOwner makes the account "owner" with a password in root's hub.db,
// and with two-factor on when totp is set.
func createOwner(t *testing.T, root string, totp bool) {
	t.Helper()
	ctx := context.Background()
	db, err := hubdb.Open(ctx, config.Paths{Root: root}.HubDB())
	if err != nil {
		t.Fatal(err)
	}
	store := accounts.NewStore(db)
	u, err := store.Create(ctx, "owner", "correct horse battery staple", accounts.CreateOptions{PasswordChanged: true})
	if err == nil && totp {
		err = store.EnableTOTP(ctx, u.ID, "JBSWY3DPEHPK3PXP", "")
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
}

// checkStdout fails the test for each of want that out lacks and each of
// never that it has.
func checkStdout(t *testing.T, out string, want, never []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
	for _, w := range never {
		if strings.Contains(out, w) {
			t.Errorf("stdout has %q:\n%s", w, out)
		}
	}
}
